import type { CacheStore } from '../stores/types.js'

/** The few functions of vitest (or jest) the suite uses: pass `{ describe, it, expect }`. */
export interface TestApi {
  describe(name: string, body: () => void): void
  it(name: string, body: () => Promise<void>): void
  // biome-ignore lint/suspicious/noExplicitAny: the matchers of vitest and jest differ in their types.
  expect: (value: unknown) => any
}

/** How the contract suite gets stores of one implementation. */
export interface StoreContractKit {
  /** Shown in the suite's title. */
  name: string
  /** A fresh store isolated from every other test (its own prefix); clean it up when the test ends. */
  make(): Promise<CacheStore>
  /** A second store over the same data as `store`, as another app instance would have. */
  twin(store: CacheStore): CacheStore | Promise<CacheStore>
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

type Case = [name: string, run: (kit: StoreContractKit, expect: TestApi['expect']) => Promise<void>]

/** One entry per rule of the contract. */
const CASES: Case[] = [
  [
    'misses an absent key and reads back what it wrote with the remaining ttl',
    async (kit, expect) => {
      const store = await kit.make()
      expect(await store.get('a')).toBeUndefined()
      expect(await store.set('a', Buffer.from('hello'), 10_000, undefined)).toBe(true)
      const got = await store.get('a')
      expect(got?.value.toString()).toBe('hello')
      expect(got!.ttlMs).toBeGreaterThan(9_000)
      expect(got!.ttlMs).toBeLessThanOrEqual(10_000)
    },
  ],
  [
    'keeps binary values byte for byte',
    async (kit, expect) => {
      const store = await kit.make()
      const bytes = Buffer.from([0, 255, 1, 254, 0xfc, 0x80, 10, 13])
      await store.set('bin', bytes, 10_000, undefined)
      expect((await store.get('bin'))?.value.equals(bytes)).toBe(true)
    },
  ],
  [
    'expires entries',
    async (kit, expect) => {
      const store = await kit.make()
      await store.set('short', Buffer.from('x'), 50, undefined)
      await sleep(120)
      expect(await store.get('short')).toBeUndefined()
    },
  ],
  [
    'batches concurrent reads and answers each key',
    async (kit, expect) => {
      const store = await kit.make()
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.set(`k${i}`, Buffer.from(String(i)), 10_000, undefined)),
      )
      const values = await Promise.all(Array.from({ length: 60 }, (_, i) => store.get(`k${i}`)))
      for (let i = 0; i < 60; i++) expect(values[i]?.value.toString()).toBe(i < 50 ? String(i) : undefined)
    },
  ],
  [
    'delete removes the entry and bumps the generation so a raced fill loses',
    async (kit, expect) => {
      const store = await kit.make()
      const before = await store.generation('g')
      expect(before).not.toBe('')
      expect(await store.generation('g')).toBe(before)
      await store.set('g', Buffer.from('v1'), 10_000, undefined)
      expect(await store.delete(['g'])).toBe(1)
      expect(await store.get('g')).toBeUndefined()
      const after = await store.generation('g')
      expect(after).not.toBe(before)
      // A fill that saw the old generation is refused; one that saw the new one is written.
      expect(await store.set('g', Buffer.from('old'), 10_000, before)).toBe(false)
      expect(await store.get('g')).toBeUndefined()
      expect(await store.set('g', Buffer.from('new'), 10_000, after)).toBe(true)
      expect((await store.get('g'))?.value.toString()).toBe('new')
      expect(await store.delete(['missing-1', 'missing-2'])).toBe(0)
    },
  ],
  [
    'a generation outlives no fill: kept with the entry it fenced, removed by releaseLock otherwise',
    async (kit, expect) => {
      const store = await kit.make()
      // Written: the generation stays with the entry, so a second fill that read it (started when a
      // slow holder's lock expired) is written too: the newest load lands last.
      const read = await store.generation('w')
      expect(await store.set('w', Buffer.from('v'), 10_000, read)).toBe(true)
      expect(await store.generation('w')).toBe(read)
      expect(await store.set('w', Buffer.from('newer'), 10_000, read)).toBe(true)
      expect((await store.get('w'))?.value.toString()).toBe('newer')
      // A delete removes both: a fill that read the generation before it loses.
      await store.delete(['w'])
      expect(await store.set('w', Buffer.from('late'), 10_000, read)).toBe(false)
      // Ended without a write: releaseLock removes it if it is still the current one, lock or not.
      const next = await store.generation('w')
      expect(next).not.toBe(read)
      await store.releaseLock('w', '', next)
      expect(await store.generation('w')).not.toBe(next)
      const lock = await store.acquireLock('r', 'tok', 1_000)
      expect(await store.releaseLock('r', 'tok', lock.generation)).toBe(true)
      expect(await store.generation('r')).not.toBe(lock.generation)
      // Not the current one any more (a delete, then another fill read a new one): left alone.
      const older = await store.generation('n')
      await store.delete(['n'])
      const current = await store.generation('n')
      await store.releaseLock('n', '', older)
      expect(await store.generation('n')).toBe(current)
      expect(await store.releaseLock('n', '', undefined)).toBe(false)
    },
  ],
  [
    'gives each delete a distinct generation',
    async (kit, expect) => {
      const store = await kit.make()
      const seen = new Set<string>()
      for (let i = 0; i < 5; i++) {
        await store.delete(['d'])
        seen.add(await store.generation('d'))
      }
      expect(seen.size).toBe(5)
    },
  ],
  [
    'locks: one holder at a time, release only with the token, expiry frees it',
    async (kit, expect) => {
      const store = await kit.make()
      const first = await store.acquireLock('l', 'tok-a', 200)
      expect(first).toEqual({ acquired: true, generation: await store.generation('l') })
      expect((await store.acquireLock('l', 'tok-b', 200)).acquired).toBe(false)
      expect(await store.releaseLock('l', 'tok-b')).toBe(false)
      expect((await store.acquireLock('l', 'tok-c', 200)).acquired).toBe(false)
      expect(await store.releaseLock('l', 'tok-a')).toBe(true)
      expect((await store.acquireLock('l', 'tok-d', 100)).acquired).toBe(true)
      await sleep(150)
      expect((await store.acquireLock('l', 'tok-e', 1000)).acquired).toBe(true)
      // tok-d expired and tok-e holds it now: a late release of tok-d must not free tok-e's lock.
      expect(await store.releaseLock('l', 'tok-d')).toBe(false)
      expect((await store.acquireLock('l', 'tok-f', 1000)).acquired).toBe(false)
    },
  ],
  [
    'lock acquisition reports the current generation',
    async (kit, expect) => {
      const store = await kit.make()
      await store.delete(['lg'])
      const generation = await store.generation('lg')
      expect((await store.acquireLock('lg', 't', 1000)).generation).toBe(generation)
    },
  ],
  [
    'a release whose lock expired and was taken over leaves the generation: the new holder stores with it',
    async (kit, expect) => {
      const store = await kit.make()
      const first = await store.acquireLock('to', 'tok-slow', 100)
      await sleep(150)
      const second = await store.acquireLock('to', 'tok-next', 5_000)
      expect(second).toEqual({ acquired: true, generation: first.generation })
      expect(await store.releaseLock('to', 'tok-slow', first.generation)).toBe(false)
      expect(await store.set('to', Buffer.from('next'), 10_000, second.generation)).toBe(true)
      expect(await store.releaseLock('to', 'tok-next', undefined)).toBe(true)
    },
  ],
  [
    'ifEmpty: a key that has a value by now is answered filled, nothing taken; an empty one is locked',
    async (kit, expect) => {
      const store = await kit.make()
      const generation = await store.generation('ie')
      expect(await store.set('ie', Buffer.from('v'), 10_000, generation)).toBe(true)
      expect(await store.acquireLock('ie', 'tok-late', 1000, true)).toEqual({
        acquired: false,
        generation: '',
        filled: true,
      })
      // Nothing was taken: another fill (a refresh, without ifEmpty) gets the lock.
      expect((await store.acquireLock('ie', 'tok-refresh', 1000)).acquired).toBe(true)
      expect((await store.acquireLock('ie-empty', 'tok', 1000, true)).acquired).toBe(true)
    },
  ],
  [
    'a key without a generation gets the acquiring token: a fill that lost the reply can remove it',
    async (kit, expect) => {
      const store = await kit.make()
      expect(await store.acquireLock('lt', 'tok-lost', 1000)).toEqual({
        acquired: true,
        generation: 'tok-lost',
      })
      // Another fill waiting on the lock reads the same generation, not its own token.
      expect((await store.acquireLock('lt', 'tok-other', 1000)).generation).toBe('tok-lost')
      expect(await store.releaseLock('lt', 'tok-lost', 'tok-lost')).toBe(true)
      expect(await store.generation('lt')).not.toBe('tok-lost')
    },
  ],
  [
    'clear removes every entry under its prefix and nothing else',
    async (kit, expect) => {
      const store = await kit.make()
      const other = await kit.make()
      await store.set('a', Buffer.from('1'), 10_000, undefined)
      await store.set('b', Buffer.from('2'), 10_000, undefined)
      await other.set('a', Buffer.from('other'), 10_000, undefined)
      expect(await store.clear()).toBeGreaterThanOrEqual(2)
      expect(await store.get('a')).toBeUndefined()
      expect(await store.get('b')).toBeUndefined()
      expect((await other.get('a'))?.value.toString()).toBe('other')
    },
  ],
  [
    'publishes to every subscriber, which is told once its subscription is confirmed',
    async (kit, expect) => {
      const store = await kit.make()
      const twin = await kit.twin(store)
      const received: string[] = []
      let resets = 0
      let confirmed!: () => void
      const subscribed = new Promise<void>((resolve) => {
        confirmed = resolve
      })
      await twin.subscribe({
        message: (m) => received.push(m),
        reset: () => {
          resets++
          confirmed()
        },
        down: () => {},
      })
      await subscribed
      await store.publish('hello bus')
      for (let i = 0; i < 50 && received.length === 0; i++) await sleep(10)
      expect(received).toEqual(['hello bus'])
      expect(resets).toBe(1)
    },
  ],
  [
    'records variants in a vary marker, atomically bounded, kept at least as long as asked',
    async (kit, expect) => {
      const store = await kit.make()
      await store.set('route', Buffer.from('an entry before the route varied'), 10_000, undefined)
      expect(await store.addVariant('route', 'v1', 'accept-language', 2, 5_000)).toBe(true)
      expect(await store.addVariant('route', 'v1', 'accept-language', 2, 5_000)).toBe(true) // known: no new slot
      const concurrent = await Promise.all(
        ['v2', 'v3', 'v4'].map((v) => store.addVariant('route', v, 'accept-language', 2, 5_000)),
      )
      expect(concurrent.filter(Boolean)).toHaveLength(1) // the bound holds against concurrent writers
      const marker = (await store.get('route'))!
      expect(marker.value[0]).toBe(0xfd)
      const [names, ...keys] = marker.value.toString('latin1', 1).split('\n')
      expect(names).toBe('accept-language')
      expect(keys.filter(Boolean)).toHaveLength(2)
      expect(marker.ttlMs).toBeGreaterThan(4_000)
      expect(await store.addVariant('other', 'x', 'a,b', 1, 200)).toBe(true)
      await store.addVariant('other', 'x', 'a,b', 1, 100) // a shorter ttl never shortens the marker
      expect((await store.get('other'))!.ttlMs).toBeGreaterThan(150)
    },
  ],
  [
    'says where it keeps its data',
    async (kit, expect) => {
      const store = await kit.make()
      expect(['redis', 'process', 'opaque']).toContain(store.location.kind)
      if (store.location.kind === 'redis') expect(store.location.entryKey('k')).toContain('k')
      if (store.location.kind === 'process') expect(typeof store.location.scope).toBe('object')
    },
  ],
]

/**
 * The contract every `CacheStore` must keep: reads with remaining TTL, binary values, expiry, batched
 * reads, the delete fence (generations), locks, clear and the bus. Run it against your own store in a
 * test file: `storeContractSuite({ name: 'mine', make, twin }, { describe, it, expect })` (vitest's or
 * jest's functions; the suite imports no test runner itself).
 */
export function storeContractSuite(kit: StoreContractKit, { describe, it, expect }: TestApi): void {
  describe(`store contract: ${kit.name}`, () => {
    for (const [name, run] of CASES) it(name, () => run(kit, expect))
  })
}
