import { Redis } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  binaryKind,
  cleanupPrefix,
  clusterNodes,
  databaseUrl,
  redisUrl,
  serverKindAt,
  startRedisServer,
  threadStates,
  uniquePrefix,
} from '../src/index.js'

describe('test-services', () => {
  it('resolves a reachable Redis and cleans only its own prefix', async () => {
    const redis = new Redis(await redisUrl())
    onTestFinished(() => redis.quit().then(() => undefined))
    const mine = uniquePrefix('mine')
    const other = uniquePrefix('other')
    await redis.set(`${mine}a`, '1')
    await redis.set(`${mine}b`, '1')
    await redis.set(`${other}a`, '1')
    expect(await cleanupPrefix(redis, mine)).toBe(2)
    expect(await redis.exists(`${mine}a`, `${mine}b`)).toBe(0)
    expect(await redis.get(`${other}a`)).toBe('1')
    await cleanupPrefix(redis, other)
  })

  it('gives unique prefixes', () => {
    expect(uniquePrefix('x')).not.toBe(uniquePrefix('x'))
  })

  it('resolves Postgres', async () => {
    expect(await databaseUrl()).toMatch(/^postgres(ql)?:\/\//)
  })

  it('parses KEYDB_CLUSTER_NODES', () => {
    const saved = process.env.KEYDB_CLUSTER_NODES
    process.env.KEYDB_CLUSTER_NODES = '127.0.0.1:7001, redis://127.0.0.1:7002'
    try {
      expect(clusterNodes()).toEqual([
        { host: '127.0.0.1', port: 7001 },
        { host: '127.0.0.1', port: 7002 },
      ])
    } finally {
      if (saved === undefined) delete process.env.KEYDB_CLUSTER_NODES
      else process.env.KEYDB_CLUSTER_NODES = saved
    }
  })

  it('starts, pauses, kills and restarts a throwaway redis-server', async () => {
    const server = await startRedisServer()
    onTestFinished(() => server.stop())
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, commandTimeout: 200, lazyConnect: true })
    client.on('error', () => {})
    onTestFinished(() => client.disconnect())
    await client.connect()
    expect(await client.ping()).toBe('PONG')
    await server.pause()
    await expect(client.ping()).rejects.toThrow(/timed out/i)
    server.resume()
    await server.kill()
    expect(server.running).toBe(false)
    await server.restart()
    expect(server.running).toBe(true)
    const again = new Redis(server.url, { lazyConnect: true })
    await again.connect()
    expect(await again.ping()).toBe('PONG')
    again.disconnect()
  })

  // A multi-threaded KeyDB (and even a default one) stops its threads one by one after SIGSTOP: it
  // answered a PING sent right after the signal in 2-6 of 20 tries. pause() must not return before.
  it('pause() returns only once every server thread is stopped', async () => {
    const keydb = binaryKind() === 'keydb'
    const server = await startRedisServer({ args: keydb ? ['--server-threads', '2'] : [] })
    onTestFinished(() => server.stop())
    expect(await serverKindAt(server.url)).toBe(binaryKind())
    const pid = Number(/process_id:(\d+)/.exec(await infoServer(server.url))?.[1])
    expect(threadStates(pid)?.size).toBeGreaterThan(keydb ? 2 : 0)
    for (let trial = 0; trial < 20; trial++) {
      const client = new Redis(server.url, {
        maxRetriesPerRequest: 0,
        commandTimeout: 100,
        lazyConnect: true,
      })
      client.on('error', () => {})
      await client.connect()
      expect(await client.ping()).toBe('PONG')
      await server.pause()
      expect([...(threadStates(pid)?.values() ?? [])].every((state) => state === 'T')).toBe(true)
      const ping = await client.ping().then(
        (reply) => reply,
        (error: Error) => error.message,
      )
      expect({ trial, ping }).toMatchObject({ trial, ping: expect.stringMatching(/timed out/i) })
      server.resume()
      client.disconnect()
    }
  })
})

async function infoServer(url: string): Promise<string> {
  const client = new Redis(url)
  try {
    return await client.info('server')
  } finally {
    client.disconnect()
  }
}
