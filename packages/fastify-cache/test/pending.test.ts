import { eventually, type RedisProcess, startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Cache, type CacheEvents, KeydbStore } from '../src/index.js'
import { sleep } from './helpers.js'

// Invalidations while KeyDB is down (issue 13 item 5): kept, counted, replayed before this instance
// uses KeyDB again, and no instance serves what they invalidated once KeyDB comes back, even when it
// restarts with the old entries still in it (append-only file on).

/** An instance: its own connections (as fastify-keydb makes them: no offline queue), L1 on. */
function instance(server: RedisProcess, keyPrefix: string) {
  const client = new Redis(server.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
  })
  client.on('error', () => {})
  const cache = new Cache({
    store: new KeydbStore({ client, keyPrefix, commandTimeoutMs: 200 }),
    l1: { maxEntries: 100, ttlMs: 60_000 },
    ttlMs: 60_000,
  })
  const pending: Array<CacheEvents['pending']> = []
  cache.events.on('pending', (event) => pending.push(event))
  onTestFinished(async () => {
    await cache.close()
    client.disconnect()
  })
  return { cache, pending }
}

describe('invalidations while KeyDB is down', () => {
  it('are kept and counted, replayed before KeyDB is used again; no instance serves the old entry after a restart', async () => {
    const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
    onTestFinished(() => server.stop())
    const keyPrefix = `pending-${Math.random().toString(36).slice(2, 8)}`
    const a = instance(server, keyPrefix)
    const b = instance(server, keyPrefix)
    await Promise.all([a.cache.ready(), b.cache.ready()])
    await sleep(300) // each has heard the other's heartbeat: they know each other as peers
    await a.cache.set('product', 'v1')
    expect(await b.cache.get('product')).toBe('v1') // in B's L1 now
    expect(await a.cache.get('product')).toBe('v1')

    await server.kill()
    // The write committed in the database; its invalidation cannot reach KeyDB.
    await expect(a.cache.delete('product')).rejects.toMatchObject({ code: 'FST_CACHE_INVALIDATION_PENDING' })
    expect(a.pending.at(-1)).toEqual({ keys: 1, tags: 0, clear: false })
    // This instance leaves the store and its L1 alone meanwhile: the origin answers.
    expect(await a.cache.get('product')).toBeUndefined()
    expect(await a.cache.getOrSet('product', async () => 'v2')).toBe('v2')

    await server.restart() // the append-only file brings the old entry back
    const seenByB = new Set<unknown>()
    const seenByA = new Set<unknown>()
    const replayed = await eventually(async () => {
      seenByB.add(await b.cache.get('product'))
      seenByA.add(await a.cache.get('product'))
      return a.pending.at(-1)?.keys === 0
    }, 8_000)
    expect(replayed).toBe(true)
    // Reads on both instances from the restart until well after the replay: never the old entry.
    const after = performance.now() + 3_500
    while (performance.now() < after) {
      seenByB.add(await b.cache.get('product'))
      seenByA.add(await a.cache.get('product'))
      await sleep(25)
    }
    expect(seenByA.has('v1')).toBe(false)
    expect(seenByB.has('v1')).toBe(false)
    // And caching works again for both once the replay is done.
    expect(await a.cache.getOrSet('product', async () => 'v3')).toBe('v3')
    expect(await eventually(async () => (await b.cache.get('product')) === 'v3', 2_000)).toBe(true)
  })

  it('past the bound the held keys become one clear of everything; bad input is never kept', async () => {
    const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
    onTestFinished(() => server.stop())
    const a = instance(server, `bound-${Math.random().toString(36).slice(2, 8)}`)
    await a.cache.ready()
    await a.cache.set('kept', 'old')
    await server.kill()
    const keys = Array.from({ length: 10_001 }, (_, i) => `k${i}`)
    await expect(a.cache.delete(keys)).rejects.toMatchObject({ code: 'FST_CACHE_INVALIDATION_PENDING' })
    expect(a.pending.at(-1)).toEqual({ keys: 0, tags: 0, clear: true })
    await expect(a.cache.delete('')).rejects.toMatchObject({ code: 'FST_CACHE_INVALID_KEY' })
    await server.restart()
    expect(await eventually(() => a.pending.at(-1)?.clear === false, 5_000)).toBe(true)
    expect(await a.cache.get('kept')).toBeUndefined() // back from the append-only file, then cleared
  })
})
