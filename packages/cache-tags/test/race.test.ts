import { describe, expect, it } from 'vitest'
import { deferred, instance, invalidateEverywhere, type Kit, kits, sleep } from './helpers.js'

const RUNS = 50

describe.each(kits('cache-tags race'))('the race (DESIGN 6) on $name', (kit: Kit) => {
  it(`a loader paused between its read and its write while an invalidation lands: never stored (${RUNS} runs)`, async () => {
    const { store } = await kit.make()
    const a = await instance(store, { l1: { maxEntries: 1_000 } })
    const b = await instance(kit.twin(store), { l1: { maxEntries: 1_000 } })
    for (let run = 0; run < RUNS; run++) {
      const key = `product:${run}`
      const tags = [`product:${run}`, 'cat:tv']
      let row = 'old'
      const read = deferred()
      const resume = deferred()
      const pending = a.cache.getOrSet(
        key,
        async () => {
          const seen = row // the loader has read the row...
          read.resolve()
          await resume.promise // ...and is paused before the cache write
          return seen
        },
        { tags },
      )
      await read.promise
      row = 'new' // the update commits, then invalidates (on another instance)
      await invalidateEverywhere(b, [a], [run % 2 === 0 ? `product:${run}` : 'cat:tv'])
      resume.resolve()
      expect(await pending).toBe('old') // its own caller gets what it read
      for (const x of [a, b, a, b]) expect(await x.cache.getOrSet(key, async () => row, { tags })).toBe('new')
    }
    expect(a.tags.stats.raced).toBe(RUNS)
  })

  it(`delete(key) against a fill in flight of that key: never stored (${RUNS} runs)`, async () => {
    const { store } = await kit.make()
    const a = await instance(store)
    const b = await instance(kit.twin(store))
    for (let run = 0; run < RUNS; run++) {
      const key = `row:${run}`
      let row = 'old'
      const read = deferred()
      const resume = deferred()
      const pending = a.cache.getOrSet(
        key,
        async () => {
          const seen = row
          read.resolve()
          await resume.promise
          return seen
        },
        { tags: ['rows'] },
      )
      await read.promise
      row = 'new'
      await b.cache.delete(key)
      resume.resolve()
      expect(await pending).toBe('old')
      expect(await b.cache.getOrSet(key, async () => row, { tags: ['rows'] })).toBe('new')
      expect(await a.cache.get(key)).toBe('new')
    }
  })

  it('a fill that starts after the invalidation is stored (the check is not a blanket refusal)', async () => {
    const { store } = await kit.make()
    const a = await instance(store)
    await a.cache.set('k', 'v1', { tags: ['t'] })
    await a.cache.invalidateTags(['t'])
    let loads = 0
    const load = async () => `v${++loads + 1}`
    expect(await a.cache.getOrSet('k', load, { tags: ['t'] })).toBe('v2')
    expect(await a.cache.getOrSet('k', load, { tags: ['t'] })).toBe('v2')
    expect(loads).toBe(1)
    expect(a.tags.stats.raced).toBe(0)
  })

  it('a soft invalidation racing a load stores the result already stale', async () => {
    const { store } = await kit.make()
    // clockSkewMs 0: the refresh below starts after the invalidation, and must then be stored fresh.
    const a = await instance(store, { staleWhileRevalidateMs: 60_000 }, { clockSkewMs: 0 })
    const read = deferred()
    const resume = deferred()
    const pending = a.cache.getOrSet(
      'k',
      async () => {
        read.resolve()
        await resume.promise
        return 'loaded'
      },
      { tags: ['t'] },
    )
    await read.promise
    await a.cache.invalidateTags(['t'], { mode: 'soft' })
    resume.resolve()
    await pending
    expect(a.tags.stats.racedSoft).toBe(1)
    await sleep(20) // the refresh must start measurably after the invalidation
    const stale: string[] = []
    a.cache.events.on('stale', (e) => stale.push(e.reason))
    expect(await a.cache.getOrSet('k', async () => 'fresh', { tags: ['t'] })).toBe('loaded')
    expect(stale).toEqual(['revalidate'])
    await a.cache.drain()
    expect(await a.cache.get('k')).toBe('fresh')
  })
})
