import {
  cleanupPrefix,
  clusterNodes,
  type FakeRespConnection,
  redisUrl,
  startFakeRespServer,
  uniquePrefix,
  warnClusterSkipped,
} from '@fastkey/test-services'
import { Cluster } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { failFastRedisOptions } from '../src/index.js'
import { appWith, type LogLine } from './helpers.js'

const ERROR = 50
const HUGE = '$2000000000\r\n'

const tooLarge = (logs: LogLine[]) =>
  logs.filter((l) => (l as { err?: { code?: string } }).err?.code === 'FST_KEYDB_REPLY_TOO_LARGE')

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A server that answers GET with a 2 GB header and then trickles, and SUBSCRIBE with such a message. */
async function hostileServer() {
  const server = await startFakeRespServer((command, connection: FakeRespConnection) => {
    const name = command[0]?.toUpperCase()
    if (name === 'GET') connection.write(HUGE)
    else if (name === 'SUBSCRIBE') {
      const head = connection.resp3 ? '>3\r\n' : '*3\r\n'
      connection.write(
        `${head}$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n${head}$7\r\nmessage\r\n$2\r\nch\r\n${HUGE}`,
      )
    } else if (name === 'LRANGE') connection.write('*10000000\r\n')
    else return undefined
    connection.trickle(Buffer.from('$1\r\nx\r\n'.repeat(1024)), 5)
    return true
  })
  onTestFinished(() => server.close())
  return server
}

describe('maxReplyBytes', () => {
  test('a reply announcing 2 GB drops the connection at once: the command fails, one error line, the client reconnects', async () => {
    const server = await hostileServer()
    const { app, logs } = await appWith({ url: server.url })
    const started = performance.now()
    await expect(app.keydb.get('k')).rejects.toThrow()
    expect(performance.now() - started).toBeLessThan(400) // before the 500 ms command deadline
    await expect(app.keydb.get('again')).rejects.toThrow()
    await until(() => app.keydb.status === 'ready')
    expect(await app.keydb.ping()).toBe('PONG')
    const lines = tooLarge(logs)
    expect(lines).toHaveLength(1)
    expect(lines[0]!.level).toBe(ERROR)
  })

  test('a reply that grows past the limit in small complete parts drops the connection too', async () => {
    const server = await hostileServer()
    const { app, logs } = await appWith({
      url: server.url,
      maxReplyBytes: 64 * 1024,
      commandTimeoutMs: 5_000,
    })
    await expect(app.keydb.lrange('l', 0, -1)).rejects.toThrow()
    expect(tooLarge(logs)).toHaveLength(1)
  })

  test('the subscriber() connection is bounded as well, and backs off when every connect is refused', async () => {
    const server = await hostileServer()
    const { app, logs } = await appWith({ url: server.url })
    await app.keydb
      .subscriber()
      .subscribe('ch')
      .catch(() => {})
    await until(() => tooLarge(logs).length > 0)
    const acceptedAfterFirstTrip = server.accepted
    await new Promise((r) => setTimeout(r, 1_000))
    // 50, 100, 200, 400 ms... between reconnects: a handful in a second, not one every 50 ms.
    expect(server.accepted - acceptedAfterFirstTrip).toBeLessThanOrEqual(5)
    expect(tooLarge(logs).filter((l) => l.level === ERROR)).toHaveLength(1)
  })

  test('an injected client is bounded from its first connect', async () => {
    const server = await hostileServer()
    const { Redis } = await import('ioredis')
    const client = new Redis(server.url, { ...failFastRedisOptions(), lazyConnect: true })
    const { app, logs } = await appWith({ client, closeClient: true, maxReplyBytes: 1024 })
    await expect(app.keydb.get('k')).rejects.toThrow()
    expect(tooLarge(logs)).toHaveLength(1)
  })

  test('values under the limit pass, on a real server', async () => {
    const { app, logs } = await appWith({ url: await redisUrl(), maxReplyBytes: 6 * 1024 * 1024 })
    const prefix = uniquePrefix('reply-limit')
    onTestFinished(async () => {
      await cleanupPrefix(app.keydb, prefix)
    })
    const value = 'v'.repeat(5 * 1024 * 1024)
    await app.keydb.set(`${prefix}big`, value, 'PX', 60_000)
    expect(await app.keydb.get(`${prefix}big`)).toBe(value)
    for (let i = 0; i < 200; i++) await app.keydb.set(`${prefix}${i}`, 'x'.repeat(30_000), 'PX', 60_000)
    const keys = Array.from({ length: 200 }, (_, i) => `${prefix}${i}`)
    // 200 values of 30 kB in one reply: 6 MB, just under the limit.
    expect(await app.keydb.mget(keys)).toHaveLength(200)
    expect(tooLarge(logs)).toHaveLength(0)
  })

  test('Infinity turns the check off', async () => {
    const server = await hostileServer()
    const { app, logs } = await appWith({ url: server.url, maxReplyBytes: Number.POSITIVE_INFINITY })
    await expect(app.keydb.get('k')).rejects.toThrow(/timed out/)
    expect(tooLarge(logs)).toHaveLength(0)
  })
})

const nodes = clusterNodes()
if (!nodes) warnClusterSkipped('@fastkey/fastify-keydb maxReplyBytes on a cluster')

describe.skipIf(!nodes)('maxReplyBytes on a cluster', () => {
  test('every node connection and the pub/sub connection of subscriber() are bounded', async () => {
    const { app, logs } = await appWith({ cluster: { nodes: nodes ?? [] }, maxReplyBytes: 64 * 1024 })
    const cluster = app.keydb as unknown as Cluster
    const prefix = uniquePrefix('reply-limit-cluster')
    // A connection of its own: the app's node connections are being dropped and replaced.
    const admin = new Cluster(nodes ?? [])
    onTestFinished(async () => {
      await cleanupPrefix(admin, prefix)
      admin.disconnect()
    })
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => `${prefix}${k}`)
    for (const key of keys) await cluster.set(key, 'x'.repeat(100_000), 'PX', 60_000)
    const reads = await Promise.allSettled(keys.map((key) => cluster.get(key)))
    expect(reads.every((r) => r.status === 'rejected')).toBe(true)
    const nodeLines = tooLarge(logs).filter((l) => l.level === ERROR && l.msg.includes('cluster node'))
    // Keys on every master, each node connection logged once.
    expect(nodeLines.length).toBe(new Set(nodeLines.map((l) => l.msg)).size)
    expect(nodeLines.length).toBeGreaterThan(1)

    const subscriber = app.keydb.subscriber() as unknown as Cluster
    await subscriber.subscribe(`${prefix}ch`)
    // Published by another client: the app's node connections may still be reconnecting.
    await admin.publish(`${prefix}ch`, 'p'.repeat(100_000))
    await until(() => tooLarge(logs).some((l) => l.msg.includes('cluster pub/sub connection')))
  })
})
