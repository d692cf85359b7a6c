import { KeydbStore } from '@fastkey/fastify-cache'
import { busOf } from '@fastkey/fastify-cache/testing'
import { startRedisServer } from '@fastkey/test-services'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { deferred, instance, keydbStandaloneKit, redisClient, sleep } from './helpers.js'

/** An engine on a throwaway Redis we may freeze or cut (never the shared one). */
async function throwaway(
  options: Parameters<typeof instance>[2] = {},
  engine: Parameters<typeof instance>[1] = {},
) {
  const server = await startRedisServer()
  onTestFinished(() => server.stop())
  const client = await redisClient(server.url)
  const store = new KeydbStore({ client, keyPrefix: 'fails', commandTimeoutMs: 100 })
  onTestFinished(() => store.close())
  const x = await instance(store, engine, { commandTimeoutMs: 100, ...options })
  return { server, client, ...x }
}

describe('failures', () => {
  it('an invalidation while the store is down rejects, is counted, and succeeds once it is back', async () => {
    const { server, cache } = await throwaway()
    await cache.set('k', 'v', { tags: ['t'] })
    const errors: Array<[string, string | undefined]> = []
    const invalidated: string[][] = []
    cache.events.on('error', (e) => errors.push([e.operation, (e.error as { code?: string }).code]))
    cache.events.on('invalidate', (e) => invalidated.push([...e.tags]))
    const pending: boolean[] = []
    cache.events.on('pending', (e) => pending.push(e.tags > 0))
    await server.pause()
    try {
      // Kept and replayed by the engine (it never succeeds silently, and it is not lost).
      await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({
        code: 'FST_CACHE_INVALIDATION_PENDING',
        cause: { code: 'FST_CACHE_TAGS_TIMEOUT' },
      })
    } finally {
      server.resume()
    }
    expect(errors).toContainEqual(['invalidate', 'FST_CACHE_TAGS_TIMEOUT'])
    expect(pending).toEqual([true])
    // The engine reports only invalidations that happened: this one once it was replayed.
    for (let i = 0; i < 200 && pending.at(-1) !== false; i++) await sleep(20)
    expect(pending).toEqual([true, false])
    expect(invalidated).toEqual([['t']])
    expect(await cache.get('k')).toBeUndefined()
  })

  it('reads and fills of tagged entries while the store is frozen fall back to the loader', async () => {
    const { server, cache } = await throwaway({ versionTtlMs: 0 })
    await cache.set('k', 'v1', { tags: ['t'] })
    await server.pause()
    try {
      expect(await cache.getOrSet('k', async () => 'origin', { tags: ['t'] })).toBe('origin')
      expect(await cache.getOrSet('other', async () => 'origin', { tags: ['t'] })).toBe('origin')
    } finally {
      server.resume()
    }
  })

  it('the store freezing mid-load: the fill is not stored, the error is counted, nothing hangs', async () => {
    const { server, cache } = await throwaway()
    const errors: Array<[string, string | undefined]> = []
    cache.events.on('error', (e) => errors.push([e.operation, (e.error as { code?: string }).code]))
    const read = deferred()
    const resume = deferred()
    const pending = cache.getOrSet(
      'k',
      async () => {
        read.resolve()
        await resume.promise
        return 'loaded'
      },
      { tags: ['t'] },
    )
    await read.promise
    await server.pause()
    try {
      resume.resolve()
      expect(await pending).toBe('loaded')
      // The call answers within one store deadline; the seal that timed out ends in the background.
      await cache.drain()
    } finally {
      server.resume()
    }
    expect(errors).toContainEqual(['read', 'FST_CACHE_TAGS_TIMEOUT'])
    for (let i = 0; i < 100 && cache.circuitState !== 'closed'; i++) await sleep(20)
    expect(await cache.get('k')).toBeUndefined()
  })

  it('an L1 hit whose versions cannot be read falls back to the store path, then to the loader', async () => {
    const { server, cache } = await throwaway({ versionTtlMs: 30 }, { l1: { maxEntries: 10 } })
    await cache.set('k', 'cached', { tags: ['t'] })
    const hits: string[] = []
    cache.events.on('hit', (e) => hits.push(e.tier))
    expect(await cache.get('k')).toBe('cached')
    expect(hits).toEqual(['l1'])
    await sleep(100) // the memoised versions expire; the entry stays in L1
    await server.pause()
    try {
      expect(await cache.getOrSet('k', async () => 'origin', { tags: ['t'] })).toBe('origin')
    } finally {
      server.resume()
    }
  })

  it('a publish failure after the versions were written is kept and replayed (cause FST_CACHE_TAGS_PUBLISH_FAILED)', async () => {
    const { store } = await keydbStandaloneKit.make()
    const { cache } = await instance(store)
    await cache.set('k', 'v', { tags: ['t'] })
    vi.spyOn(busOf(cache), 'publish').mockRejectedValueOnce(new Error('publish lost'))
    await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({
      code: 'FST_CACHE_INVALIDATION_PENDING',
      cause: { code: 'FST_CACHE_TAGS_PUBLISH_FAILED', cause: { message: 'publish lost' } },
    })
    expect(await cache.get('k')).toBeUndefined() // the versions did change
  })

  it('memoised versions are dropped when the bus reconnects after a gap, and not used while it is down', async () => {
    const { client, cache, tags } = await throwaway({ versionTtlMs: 60_000 })
    await cache.set('k', 'v', { tags: ['t'] })
    expect(await cache.get('k')).toBe('v')
    expect(tags.stats.memoSize).toBe(1)
    await client.client('KILL', 'TYPE', 'PUBSUB')
    for (let i = 0; i < 200 && (tags.stats.memoSize > 0 || !busOf(cache).healthy); i++) await sleep(10)
    expect(tags.stats.memoSize).toBe(0)
    expect(await cache.get('k')).toBe('v')
    expect(tags.stats.memoSize).toBe(1)
    // While the bus is down (simulated), memoised versions are not trusted: each read fetches them.
    const down = vi.spyOn(busOf(cache), 'healthy', 'get').mockReturnValue(false)
    const { memoHits, memoMisses } = tags.stats
    for (let i = 0; i < 3; i++) expect(await cache.get('k')).toBe('v')
    expect(tags.stats.memoHits).toBe(memoHits)
    expect(tags.stats.memoMisses).toBe(memoMisses + 3)
    down.mockRestore()
  })

  it('memoised versions expire after versionTtlMs', async () => {
    const { store } = await keydbStandaloneKit.make()
    const { cache, tags } = await instance(store, {}, { versionTtlMs: 50 })
    await cache.set('k', 'v', { tags: ['t'] })
    expect(await cache.get('k')).toBe('v')
    expect(tags.stats.memoMisses).toBe(0) // the fill memoised what it read
    await sleep(200)
    expect(await cache.get('k')).toBe('v')
    expect(tags.stats.memoMisses).toBe(1)
  })

  it('versionTtlMs 0 memoises nothing: every read of a tagged entry reads its versions', async () => {
    const { store } = await keydbStandaloneKit.make()
    const { cache, tags } = await instance(store, {}, { versionTtlMs: 0 })
    await cache.set('k', 'v', { tags: ['t'] })
    for (let i = 0; i < 3; i++) expect(await cache.get('k')).toBe('v')
    expect(tags.stats).toMatchObject({ memoSize: 0, memoHits: 0, memoMisses: 3 })
  })
})
