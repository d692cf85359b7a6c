import net from 'node:net'
import type { ScenarioContext } from './scenario.js'

/**
 * A TCP proxy in front of a server, to make one network path misbehave while the server itself is
 * fine: replies that arrive late (a slow link, a gray failure) or that silently stop arriving while
 * the connection stays open (a half-open connection: nothing is closed, nothing is reset).
 */
export class TcpProxy {
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  /** Delay added to every chunk the server sends back, ms. */
  replyDelayMs = 0
  /** While true, bytes from the server are dropped: the client hears nothing, its socket stays open. */
  silent = false
  /** Chunks from the server dropped while silent. */
  dropped = 0
  /** Chunks from the server held back by hold(), per connection, delivered in order by release(). */
  readonly #held = new Map<net.Socket, Buffer[]>()
  #holding = false

  private constructor(server: net.Server) {
    this.#server = server
  }

  /** Starts a proxy to `host:port` on a free loopback port, closed when the scenario ends. */
  static async start(ctx: ScenarioContext, port: number, host = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined
    const server = net.createServer((client) => proxy!.#pipe(client, port, host))
    proxy = new TcpProxy(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    ctx.defer(() => proxy.close())
    return proxy
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port
  }

  #pipe(client: net.Socket, port: number, host: string): void {
    const upstream = net.connect(port, host)
    this.#sockets.add(client).add(upstream)
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => {
      if (this.#holding) {
        this.#held.set(client, [...(this.#held.get(client) ?? []), chunk])
        return
      }
      if (this.silent) {
        this.dropped++
        return
      }
      if (this.replyDelayMs <= 0) client.write(chunk)
      else
        setTimeout(() => {
          // Chunks of one connection keep their order: equal delays fire in the order they were set.
          if (!client.destroyed) client.write(chunk)
        }, this.replyDelayMs)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      this.#sockets.delete(client)
      this.#sockets.delete(upstream)
    }
    for (const socket of [client, upstream]) {
      socket.on('close', end)
      socket.on('error', end)
    }
  }

  /**
   * Holds back what the server sends (a link cut for a moment: TCP keeps the bytes and delivers
   * them late, nothing is lost or reset) until release().
   */
  hold(): void {
    this.#holding = true
  }

  /** Delivers what hold() kept, in order, and forwards again. Resolves the chunks delivered. */
  release(): number {
    this.#holding = false
    let delivered = 0
    for (const [client, chunks] of this.#held) {
      for (const chunk of chunks) if (!client.destroyed) client.write(chunk)
      delivered += chunks.length
    }
    this.#held.clear()
    return delivered
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
