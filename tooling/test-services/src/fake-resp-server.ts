import net from 'node:net'

/** One client connection of a `FakeRespServer`. */
export interface FakeRespConnection {
  readonly socket: net.Socket
  /** Whether the client switched to RESP3 with `HELLO 3` (ioredis 6 does by default). */
  readonly resp3: boolean
  write(bytes: string | Buffer): void
  /** Writes `chunk` every `everyMs` until the connection or the server closes. */
  trickle(chunk: Buffer, everyMs: number): void
}

/** Answers a command the handshake set does not cover; `undefined` from it means `-ERR unknown command`. */
export type FakeCommandHandler = (command: string[], connection: FakeRespConnection) => boolean | undefined

export interface FakeRespServer {
  readonly port: number
  readonly url: string
  /** Connections accepted so far. */
  readonly accepted: number
  /** Bytes written to clients so far. */
  readonly bytesSent: number
  close(): Promise<void>
}

const INFO = '# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nloading:0\r\n'

function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`
}

/** Parses the commands a client sent (RESP arrays of bulk strings); keeps an incomplete tail. */
class CommandReader {
  #buffer = Buffer.alloc(0)

  push(chunk: Buffer): string[][] {
    this.#buffer = Buffer.concat([this.#buffer, chunk])
    const commands: string[][] = []
    for (;;) {
      const parsed = this.#next()
      if (!parsed) return commands
      commands.push(parsed.command)
      this.#buffer = this.#buffer.subarray(parsed.end)
    }
  }

  #next(): { command: string[]; end: number } | undefined {
    const b = this.#buffer
    let at = b.indexOf('\r\n')
    if (at === -1 || b[0] !== 0x2a) return undefined
    const count = Number(b.toString('latin1', 1, at))
    let offset = at + 2
    const command: string[] = []
    for (let i = 0; i < count; i++) {
      at = b.indexOf('\r\n', offset)
      if (at === -1) return undefined
      const length = Number(b.toString('latin1', offset + 1, at))
      if (b.length < at + 2 + length + 2) return undefined
      command.push(b.toString('utf8', at + 2, at + 2 + length))
      offset = at + 2 + length + 2
    }
    return { command, end: offset }
  }
}

/**
 * A TCP server that speaks just enough RESP for an ioredis client to connect (PING, INFO, HELLO,
 * CLIENT, SELECT, QUIT), and hands every other command to `handler`: a misbehaving server for tests
 * that need replies no real server sends (a 2 GB bulk header, a reply that never ends). Fakes only
 * inject failures: everything else in the suite talks to real servers.
 */
export async function startFakeRespServer(handler: FakeCommandHandler): Promise<FakeRespServer> {
  const sockets = new Set<net.Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let accepted = 0
  let bytesSent = 0
  const server = net.createServer((socket) => {
    accepted++
    sockets.add(socket)
    const reader = new CommandReader()
    let resp3 = false
    const connection: FakeRespConnection = {
      socket,
      get resp3() {
        return resp3
      },
      write(bytes) {
        if (socket.destroyed) return
        bytesSent += Buffer.byteLength(bytes)
        socket.write(bytes)
      },
      trickle(chunk, everyMs) {
        const timer = setInterval(() => connection.write(chunk), everyMs)
        timers.add(timer)
        socket.once('close', () => {
          clearInterval(timer)
          timers.delete(timer)
        })
      },
    }
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.on('data', (chunk: Buffer) => {
      for (const command of reader.push(chunk)) {
        const name = command[0]?.toUpperCase()
        if (name === 'PING') connection.write('+PONG\r\n')
        else if (name === 'INFO') connection.write(bulk(command[1]?.toLowerCase() === 'keydb' ? '' : INFO))
        else if (name === 'HELLO') {
          resp3 = command[1] === '3'
          connection.write(
            resp3
              ? `%3\r\n${bulk('server')}${bulk('redis')}${bulk('version')}${bulk('7.0.0')}${bulk('proto')}:3\r\n`
              : `*6\r\n${bulk('server')}${bulk('redis')}${bulk('version')}${bulk('7.0.0')}${bulk('proto')}:2\r\n`,
          )
        } else if (name === 'CLIENT' || name === 'SELECT' || name === 'READONLY') connection.write('+OK\r\n')
        else if (name === 'QUIT') {
          connection.write('+OK\r\n')
          socket.end()
        } else if (!handler(command, connection)) connection.write(`-ERR unknown command '${command[0]}'\r\n`)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as net.AddressInfo
  return {
    port: address.port,
    url: `redis://127.0.0.1:${address.port}`,
    get accepted() {
      return accepted
    },
    get bytesSent() {
      return bytesSent
    },
    close() {
      for (const timer of timers) clearInterval(timer)
      timers.clear()
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
