import { describe, expect, it, vi } from 'vitest'
import { instance, invalidateEverywhere, type Kit, kits } from './helpers.js'

const L1 = { maxEntries: 1_000 }

describe.each(kits('cache-tags invalidation'))('tag invalidation on $name', (kit: Kit) => {
  it('invalidating a tag makes every tagged entry miss on every instance, L1 included', async () => {
    const { store } = await kit.make()
    const a = await instance(store, { l1: L1 })
    const b = await instance(kit.twin(store), { l1: L1 })
    const c = await instance(kit.twin(store), { l1: L1 })
    let version = 'v1'
    const load = (i: number) => async () => `${version}:${i}`
    // Fill through a, then read everywhere twice: the second read of each instance is an L1 hit.
    for (let i = 0; i < 20; i++)
      await a.cache.getOrSet(`list:${i}`, load(i), { tags: ['cat:tv', `list:${i}`] })
    const hits: string[] = []
    for (const x of [a, b, c]) x.cache.events.on('hit', (e) => hits.push(e.tier))
    for (const x of [a, b, c]) for (let i = 0; i < 20; i++) await x.cache.get(`list:${i}`)
    for (const x of [a, b, c]) for (let i = 0; i < 20; i++) await x.cache.get(`list:${i}`)
    expect(hits.filter((t) => t === 'l1').length).toBeGreaterThanOrEqual(40)

    version = 'v2'
    await invalidateEverywhere(b, [a, c], ['cat:tv'])
    for (const x of [a, b, c]) {
      for (let i = 0; i < 20; i++) expect(await x.cache.get(`list:${i}`)).toBeUndefined()
    }
    const loader = vi.fn(load(0))
    expect(await c.cache.getOrSet('list:0', loader, { tags: ['cat:tv', 'list:0'] })).toBe('v2:0')
    expect(await a.cache.get('list:0')).toBe('v2:0')
  })

  it('untagged entries and entries of other tags are untouched', async () => {
    const { store } = await kit.make()
    const a = await instance(store, { l1: L1 })
    const b = await instance(kit.twin(store), { l1: L1 })
    await a.cache.set('tv', 'tv', { tags: ['cat:tv'] })
    await a.cache.set('both', 'both', { tags: ['cat:radio', 'cat:tv'] })
    await a.cache.set('radio', 'radio', { tags: ['cat:radio'] })
    await a.cache.set('plain', 'plain')
    for (const key of ['tv', 'both', 'radio', 'plain']) expect(await b.cache.get(key)).toBe(key)
    await invalidateEverywhere(a, [b], ['cat:tv'])
    for (const x of [a, b]) {
      expect(await x.cache.get('tv')).toBeUndefined()
      expect(await x.cache.get('both')).toBeUndefined()
      expect(await x.cache.get('radio')).toBe('radio')
      expect(await x.cache.get('plain')).toBe('plain')
    }
  })

  it('hard = gone; soft = stale: stale-while-revalidate serves it once and refreshes it', async () => {
    const { store } = await kit.make()
    const a = await instance(store, { staleWhileRevalidateMs: 60_000 })
    const b = await instance(kit.twin(store), { staleWhileRevalidateMs: 60_000 })
    let price = 1
    const loader = vi.fn(async () => price)
    const read = (x: typeof a) => x.cache.getOrSet('p', loader, { tags: ['product:1'] })
    expect(await read(a)).toBe(1)
    price = 2
    await invalidateEverywhere(a, [b], ['product:1'], 'soft')
    const stale: string[] = []
    b.cache.events.on('stale', (e) => stale.push(e.reason))
    expect(await read(b)).toBe(1) // stale, refreshed in the background
    expect(stale).toEqual(['revalidate'])
    await b.cache.drain()
    expect(await read(b)).toBe(2)
    expect(await read(a)).toBe(2)
    price = 3
    await invalidateEverywhere(b, [a], ['product:1'], 'hard')
    expect(await read(a)).toBe(3) // a miss: loaded at once, never the stale 2
  })

  it('a soft invalidation after a hard one does not bring back entries older than the hard one', async () => {
    const { store } = await kit.make()
    const a = await instance(store, { staleWhileRevalidateMs: 60_000, staleIfErrorMs: 60_000 })
    await a.cache.set('old', 'old', { tags: ['t'] })
    await a.cache.invalidateTags(['t'], { mode: 'hard' })
    await a.cache.invalidateTags(['t'], { mode: 'soft' })
    expect(await a.cache.get('old')).toBeUndefined()
    const failing = async (): Promise<string> => {
      throw new Error('origin down')
    }
    // Not even stale-if-error may serve it: it is gone.
    await expect(a.cache.getOrSet('old', failing, { tags: ['t'] })).rejects.toThrow('origin down')
    await a.cache.set('new', 'new', { tags: ['t'] })
    await a.cache.invalidateTags(['t'], { mode: 'soft' })
    expect(await a.cache.getOrSet('new', failing, { tags: ['t'] })).toBe('new') // stale-if-error
  })

  it('soft without stale windows is a miss; hard then soft then hard keeps misses', async () => {
    const { store } = await kit.make()
    const a = await instance(store)
    await a.cache.set('k', 'v', { tags: ['t'] })
    await a.cache.invalidateTags(['t'], { mode: 'soft' })
    expect(await a.cache.get('k')).toBeUndefined()
    await a.cache.set('k', 'v2', { tags: ['t'] })
    expect(await a.cache.get('k')).toBe('v2')
  })

  // With the memory store versions are in process: nothing is memoised.
  it.skipIf(kit.name === 'memory')(
    'another instance answers from memoised versions, and the bus evicts them on invalidation',
    async () => {
      const { store } = await kit.make()
      const a = await instance(store)
      const b = await instance(kit.twin(store), {}, { versionTtlMs: 60_000 })
      await a.cache.set('k', 'v', { tags: ['t1', 't2'] })
      expect(await b.cache.get('k')).toBe('v')
      const before = b.tags.stats
      for (let i = 0; i < 5; i++) expect(await b.cache.get('k')).toBe('v')
      expect(b.tags.stats.memoHits - before.memoHits).toBe(5)
      expect(b.tags.stats.memoMisses).toBe(before.memoMisses)
      await invalidateEverywhere(a, [b], ['t2'])
      expect(b.tags.stats.memoSize).toBe(1) // t2 evicted, t1 kept
      expect(await b.cache.get('k')).toBeUndefined()
    },
  )

  it('delete(key) still works on tagged entries and fences a fill in flight', async () => {
    const { store } = await kit.make()
    const a = await instance(store, { l1: L1 })
    const b = await instance(kit.twin(store), { l1: L1 })
    await a.cache.set('k', 'v', { tags: ['t'] })
    expect(await b.cache.get('k')).toBe('v')
    await a.cache.delete('k')
    for (let i = 0; i < 100 && b.cache.l1Stats.entries > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(await b.cache.get('k')).toBeUndefined()
  })
})
