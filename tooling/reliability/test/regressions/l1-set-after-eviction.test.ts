// Regression test of a reliability finding (fixed): see RELIABILITY.md.
import net from 'node:net'
import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { cleanupPrefix, redisUrl } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { expect, it } from 'vitest'

/** A TCP proxy to Redis whose replies arrive `delayMs` late (one slow network path). */
async function slowReplies(port: number, delayMs: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    client.on('data', (d) => upstream.write(d))
    upstream.on('data', (d) => setTimeout(() => client.write(d), delayMs))
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return server
}

it("an instance's L1 does not keep a value whose eviction it heard before its own write was acknowledged", async () => {
  const url = new URL(await redisUrl())
  const namespace = `repro-l1-${Date.now()}`
  const proxy = await slowReplies(Number(url.port || 6379), 40)
  const slow = new Redis((proxy.address() as net.AddressInfo).port, '127.0.0.1')
  const subA = new Redis(url.toString())
  const fastB = new Redis(url.toString())
  const a = new Cache({
    store: new KeydbStore({ client: slow, keyPrefix: namespace, subscriber: subA, commandTimeoutMs: 1_000 }),
    l1: { maxEntries: 100 },
  })
  const b = new Cache({ store: new KeydbStore({ client: fastB, keyPrefix: namespace }) })
  try {
    await Promise.all([a.ready(), b.ready()])
    let row = 'old'
    let deleted: Promise<number> | undefined
    // A's write leaves as soon as its loader is done; B deletes while A's acknowledgement is on its way.
    a.events.on('load', () => {
      setTimeout(() => {
        row = 'new'
        deleted = b.delete('k')
      }, 15)
    })
    await a.getOrSet('k', async () => row)
    await deleted
    await new Promise((r) => setTimeout(r, 100)) // every instance has long heard the eviction
    expect(await b.get('k')).toBeUndefined() // KeyDB holds nothing: the delete won
    // Observed: 'old', from A's L1 (until l1.ttlMs, 5 s by default), although A heard the eviction.
    expect(await a.get('k')).toBeUndefined()
  } finally {
    await a.close()
    await b.close()
    slow.disconnect()
    subA.disconnect()
    await cleanupPrefix(fastB, `${namespace}:`)
    fastB.disconnect()
    proxy.close()
  }
})
