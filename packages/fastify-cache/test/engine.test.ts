import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { encodeEntry } from '../src/extension/index.js'
import { Cache, type CacheEvents, type CacheOptions, type CacheStore } from '../src/index.js'
import { deferred, type StoreKit, sleep, storeKits } from './helpers.js'

function engine(store: CacheStore, options: CacheOptions = {}): Cache {
  const cache = new Cache({ store, ...options })
  onTestFinished(() => cache.close())
  return cache
}

function record<E extends keyof CacheEvents>(cache: Cache, name: E): CacheEvents[E][] {
  const seen: CacheEvents[E][] = []
  cache.events.on(name, (event) => seen.push(event))
  return seen
}

describe.each(storeKits('engine'))('engine on $name', (kit: StoreKit) => {
  it('cache-aside: loads once, then serves the stored value', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const loader = vi.fn(async () => ({ id: 1, price: '9.99' }))
    expect(await cache.getOrSet('product:1', loader)).toEqual({ id: 1, price: '9.99' })
    expect(await cache.getOrSet('product:1', loader)).toEqual({ id: 1, price: '9.99' })
    expect(loader).toHaveBeenCalledTimes(1)
    expect(await cache.get('product:1')).toEqual({ id: 1, price: '9.99' })
  })

  it('set, get, getMany, delete', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    expect(await cache.set('a', 1)).toBe(true)
    expect(await cache.set('b', 'two')).toBe(true)
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, 'two', undefined])
    expect(await cache.delete('a')).toBe(1)
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.delete(['a', 'b'])).toBe(1)
  })

  it('clear removes the namespace', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    await cache.set('x', 1)
    await cache.set('y', 2)
    await cache.clear()
    expect(await cache.getMany(['x', 'y'])).toEqual([undefined, undefined])
  })

  it('keys that need hashing stay distinct and readable', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const long = 'k'.repeat(500)
    await cache.set(long, 'long')
    await cache.set('{braces}', 'braces')
    await cache.set('#hash', 'hash')
    expect(await cache.getMany([long, '{braces}', '#hash', `${long}x`])).toEqual([
      'long',
      'braces',
      'hash',
      undefined,
    ])
  })

  it('single-flight: concurrent calls in one process share one load', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const gate = deferred()
    const loader = vi.fn(async () => {
      await gate.promise
      return 'v'
    })
    const calls = Array.from({ length: 100 }, () => cache.getOrSet('sf', loader))
    await sleep(20)
    gate.resolve()
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['v']))
    expect(loader).toHaveBeenCalledTimes(1)
  })

  it('stampede across 3 instances: one origin call, everyone gets the value', async () => {
    const { store } = await kit.make()
    const instances = [engine(store), engine(kit.twin(store)), engine(kit.twin(store))]
    await Promise.all(instances.map((c) => c.ready()))
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(50)
      return { n: 42 }
    }
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        instances[i % 3]!.getOrSet('cold', loader, { lock: { ttlMs: 5_000, waitMs: 3_000 } }),
      ),
    )
    expect(calls).toBe(1)
    for (const r of results) expect(r).toEqual({ n: 42 })
  })

  it('a lock holder that never releases: waiters load themselves after lock.waitMs', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    // Another instance took the lock and died without filling or releasing.
    await store.acquireLock('stuck', 'dead-holder', 60_000)
    const waits = record(cache, 'lockWait')
    const started = performance.now()
    const value = await cache.getOrSet('stuck', async () => 'mine', { lock: { ttlMs: 60_000, waitMs: 150 } })
    const elapsed = performance.now() - started
    expect(value).toBe('mine')
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(2_000)
    expect(waits).toEqual([expect.objectContaining({ key: 'stuck', outcome: 'timeout' })])
  })

  it('waiters are woken by the fill of another instance', async () => {
    const { store } = await kit.make()
    const a = engine(store)
    const b = engine(kit.twin(store))
    await Promise.all([a.ready(), b.ready()])
    const gate = deferred()
    const leader = a.getOrSet('woken', async () => {
      await gate.promise
      return 'from-a'
    })
    await sleep(30)
    const waits = record(b, 'lockWait')
    const follower = b.getOrSet('woken', async () => 'from-b', { lock: { ttlMs: 5_000, waitMs: 4_000 } })
    await sleep(30)
    gate.resolve()
    expect(await leader).toBe('from-a')
    expect(await follower).toBe('from-a')
    expect(waits[0]?.outcome).toBe('filled')
    expect(waits[0]!.durationMs).toBeLessThan(1_000)
  })

  it('delete during a load: the raced fill is not stored (invariant 2)', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const readOld = deferred()
    const release = deferred()
    const load = cache.getOrSet('race', async () => {
      readOld.resolve()
      await release.promise
      return 'old'
    })
    await readOld.promise
    await cache.delete('race') // the update committed and invalidated while the loader held the old row
    release.resolve()
    expect(await load).toBe('old') // the caller that loaded gets what it read...
    expect(await cache.get('race')).toBeUndefined() // ...but nobody is served it from the cache
    expect(await cache.getOrSet('race', async () => 'new')).toBe('new')
    expect(await cache.get('race')).toBe('new')
  })

  it('a request arriving after a delete is never handed a result loaded before it', async () => {
    const { store } = await kit.make()
    // Fault injection: hold the fill's write until the delete has landed.
    const writeGate = deferred()
    const writing = deferred()
    const slowStore = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'set')
          return async (...args: Parameters<CacheStore['set']>) => {
            writing.resolve()
            await writeGate.promise
            return target.set(...args)
          }
        const value = Reflect.get(target, prop, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const cache = engine(slowStore)
    const first = cache.getOrSet('after-delete', async () => 'old')
    await writing.promise // the leader has its result and is about to store it
    await cache.delete('after-delete')
    const next = cache.getOrSet('after-delete', async () => 'new', { lock: { ttlMs: 5_000, waitMs: 2_000 } })
    await sleep(30)
    writeGate.resolve()
    expect(await first).toBe('old')
    expect(await next).toBe('new')
    expect(await cache.get('after-delete')).toBe('new')
  })

  it('stale-while-revalidate: serves stale, refreshes once in the background', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    let version = 0
    const loader = vi.fn(async () => {
      await sleep(20)
      return ++version
    })
    const opts = { ttlMs: 100, staleWhileRevalidateMs: 5_000 }
    expect(await cache.getOrSet('swr', loader, opts)).toBe(1)
    await sleep(150)
    const stale = record(cache, 'stale')
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet('swr', loader, opts)))
    expect(new Set(results)).toEqual(new Set([1]))
    expect(stale.length).toBe(20)
    await cache.drain()
    expect(loader).toHaveBeenCalledTimes(2)
    expect(await cache.getOrSet('swr', loader, opts)).toBe(2)
  })

  it('stale-if-error: serves the stale copy inside the grace window, the error after it', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const opts = { ttlMs: 50, staleIfErrorMs: 300 }
    await cache.getOrSet('sie', async () => 'good', opts)
    await sleep(100)
    const boom = new Error('origin down')
    expect(await cache.getOrSet('sie', async () => Promise.reject(boom), opts)).toBe('good')
    await sleep(350)
    await expect(cache.getOrSet('sie', async () => Promise.reject(boom), opts)).rejects.toBe(boom)
  })

  it('soft origin timeout: stale copy now, the slow load fills in the background', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const opts = { ttlMs: 50, staleIfErrorMs: 10_000, timeoutMs: 50 }
    await cache.getOrSet('slow', async () => 'v1', opts)
    await sleep(80)
    const started = performance.now()
    const value = await cache.getOrSet(
      'slow',
      async () => {
        await sleep(300)
        return 'v2'
      },
      opts,
    )
    expect(value).toBe('v1')
    expect(performance.now() - started).toBeLessThan(250)
    await cache.drain()
    expect(await cache.get('slow')).toBe('v2')
  })

  it('negative caching only when asked', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const missing = vi.fn(async () => undefined)
    await cache.getOrSet('nf', missing)
    await cache.getOrSet('nf', missing)
    expect(missing).toHaveBeenCalledTimes(2)
    const nf2 = vi.fn(async () => null)
    expect(await cache.getOrSet('nf2', nf2, { negativeTtlMs: 5_000 })).toBeNull()
    expect(await cache.getOrSet('nf2', nf2, { negativeTtlMs: 5_000 })).toBeNull()
    expect(nf2).toHaveBeenCalledTimes(1)
  })

  it('values over maxValueBytes are returned but not stored, and counted', async () => {
    const { store } = await kit.make()
    const cache = engine(store, { maxValueBytes: 1_000 })
    const skips = record(cache, 'skip')
    const big = 'x'.repeat(5_000)
    expect(await cache.getOrSet('big', async () => big)).toBe(big)
    expect(await cache.get('big')).toBeUndefined()
    expect(skips).toEqual([expect.objectContaining({ key: 'big', reason: 'too-large' })])
  })

  it('values that cannot be serialized are returned, not stored', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(await cache.getOrSet('cyc', async () => cyclic)).toBe(cyclic)
    expect(await cache.get('cyc')).toBeUndefined()
  })

  it('corrupt or foreign values under our keys are a miss, never a crash', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const errorsSeen = record(cache, 'error')
    await store.set('junk', Buffer.from('{"not":"ours"}'), 10_000, undefined)
    await store.set(
      'trunc',
      encodeEntry({
        status: 200,
        contentType: 'a',
        etag: '',
        tags: '',
        freshMs: 1e4,
        staleMs: 0,
        graceMs: 0,
        loadMs: 0,
        headers: {},
        negative: false,
        body: Buffer.from('x'),
      }).subarray(0, 20),
      10_000,
      undefined,
    )
    expect(await cache.get('junk')).toBeUndefined()
    expect(await cache.get('trunc')).toBeUndefined()
    expect(await cache.getOrSet('junk', async () => 'fixed')).toBe('fixed')
    expect(await cache.get('junk')).toBe('fixed')
    expect(errorsSeen.filter((e) => e.operation === 'decode').length).toBeGreaterThanOrEqual(2)
  })

  it('a custom serializer round-trips', async () => {
    const { store } = await kit.make()
    const serializer = {
      name: 'reverse',
      serialize: (v: unknown) => Buffer.from(String(v).split('').reverse().join('')),
      deserialize: (b: Buffer) => b.toString().split('').reverse().join(''),
    }
    const cache = engine(store, { serializer })
    await cache.set('s', 'abc')
    expect((await store.get('s'))!.value.includes(Buffer.from('cba'))).toBe(true)
    expect(await cache.get('s')).toBe('abc')
  })

  it('jitter spreads ttl within bounds', async () => {
    const { store } = await kit.make()
    const cache = engine(store, { ttlMs: 10_000, jitter: 0.5 })
    const ttls = new Set<number>()
    for (let i = 0; i < 10; i++) {
      await cache.set(`j${i}`, i)
      const stored = await store.get(`j${i}`)
      expect(stored!.ttlMs).toBeGreaterThan(9_000)
      expect(stored!.ttlMs).toBeLessThanOrEqual(15_000)
      ttls.add(Math.round(stored!.ttlMs / 100))
    }
    expect(ttls.size).toBeGreaterThan(1)
  })

  it('L1 stays coherent across instances through the bus', async () => {
    const { store } = await kit.make()
    const a = engine(store, { l1: { maxEntries: 100 } })
    const b = engine(kit.twin(store), { l1: { maxEntries: 100 } })
    await Promise.all([a.ready(), b.ready()])
    await a.set('p', 'v1')
    await sleep(50) // let b hear a's fill, which evicts whatever b had
    expect(await b.get('p')).toBe('v1') // b now holds it in L1
    const hits = record(b, 'hit')
    expect(await b.getOrSet('p', async () => 'unused')).toBe('v1')
    expect(hits.at(-1)?.tier).toBe('l1')
    await a.delete('p')
    for (let i = 0; i < 50 && b.l1Stats.entries > 0; i++) await sleep(10)
    expect(await b.get('p')).toBeUndefined()
    await a.set('p', 'v2')
    await sleep(50)
    expect(await b.get('p')).toBe('v2')
  })

  it('wrap() caches a function by its key', async () => {
    const { store } = await kit.make()
    const cache = engine(store)
    const fetchUser = vi.fn(async (id: number) => ({ id }))
    const cachedUser = cache.wrap(fetchUser, { key: (id) => `user:${id}`, ttlMs: 10_000 })
    expect(await cachedUser(7)).toEqual({ id: 7 })
    expect(await cachedUser(7)).toEqual({ id: 7 })
    expect(await cachedUser(8)).toEqual({ id: 8 })
    expect(fetchUser).toHaveBeenCalledTimes(2)
  })
})

describe('engine options', () => {
  it('rejects bad options with FST_CACHE_INVALID_OPTION', () => {
    const bad: unknown[] = [
      { ttlMs: 0 },
      { ttlMs: -1 },
      { ttlMs: 'soon' },
      { staleWhileRevalidateMs: -5 },
      { staleIfErrorMs: Number.NaN },
      { jitter: 2 },
      { lock: { ttlMs: 0 } },
      { lock: 'yes' },
      { l1: { maxEntries: 0 } },
      { l1: { maxBytes: -1 } },
      { l1: { ttlMs: 0 } },
      { l1: { size: 10 } },
      { negativeTtlMs: 0 },
      { maxValueBytes: 1.5 },
      { timeoutMs: -1 },
      { serializer: {} },
      { store: {} },
      { tll: 1000 },
    ]
    for (const options of bad) {
      expect(() => new Cache(options as CacheOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'FST_CACHE_INVALID_OPTION' }),
      )
    }
  })

  it('rejects bad keys with FST_CACHE_INVALID_KEY', async () => {
    const cache = new Cache()
    onTestFinished(() => cache.close())
    await expect(cache.get('')).rejects.toMatchObject({ code: 'FST_CACHE_INVALID_KEY' })
    await expect(cache.get(undefined as never)).rejects.toMatchObject({ code: 'FST_CACHE_INVALID_KEY' })
  })
})
