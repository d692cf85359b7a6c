import { fastifyKeydb } from '@fastkey/fastify-keydb'
import { redisUrl } from '@fastkey/test-services'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { Cache, type CacheOptions, cached, fastifyCache, KeydbStore, MemoryStore } from '../src/index.js'

// Every place that takes options rejects a bad one with a coded error whose message names the key,
// shows the value (quoted, with its type) and the limit, before anything is created. The message is
// the contract being tested here, so these tests read it.

/** A MemoryStore that records whether anything subscribed to its bus. */
function watchedStore() {
  const store = new MemoryStore()
  const subscribe = vi.spyOn(store, 'subscribe')
  return { store, subscribed: () => subscribe.mock.calls.length }
}

function caught(run: () => unknown): { code?: string; message: string } {
  try {
    run()
  } catch (error) {
    return error as { code?: string; message: string }
  }
  throw new Error('expected a throw')
}

describe('engine options (new Cache)', () => {
  it('names key, value and limit, and subscribes nothing', () => {
    const cases: Array<[CacheOptions, ...string[]]> = [
      [{ ttlMs: -1 }, 'ttlMs', '-1 (number)', '2147483647'],
      [{ ttlMs: 30 * 86_400_000 }, 'ttlMs', '2592000000 (number)', '24.8 days'],
      [{ ttlMs: '5m' as never }, 'ttlMs', '"5m" (string)'],
      [{ staleWhileRevalidateMs: -5 }, 'staleWhileRevalidateMs', 'from 0 to'],
      [{ jitter: 2 }, 'jitter', '2 (number)', 'from 0 to 1'],
      [{ lock: { waitMs: -1 } }, 'lock.waitMs', '-1 (number)'],
      [{ lock: { ttl: 5 } as never }, 'lock.ttl', 'unknown option'],
      [{ l1: { maxEntries: 1.5 } }, 'l1.maxEntries', '1.5 (number)', 'integer'],
      [{ l1: { size: 1 } as never }, 'l1.size', 'unknown option'],
      [{ breaker: { failureThreshold: 0 } }, 'breaker.failureThreshold', '0 (number)', '>= 1'],
      [{ breaker: { cooldownMs: 'soon' } as never }, 'breaker.cooldownMs', '"soon" (string)'],
      [{ breaker: { threshold: 3 } as never }, 'breaker.threshold', 'unknown option'],
      [{ breaker: { slowCallMs: 0 } }, 'breaker.slowCallMs', '0 (number)'],
      [{ closeTimeoutMs: -1 }, 'closeTimeoutMs', '-1 (number)'],
      [{ maxValueBytes: 0 }, 'maxValueBytes', '0 (number)'],
      [{ serializer: {} as never }, 'serializer', '{} (object)'],
      [{ store: {} as never }, 'store', 'CacheStore'],
      [{ tags: { begin() {} } as never }, 'tags', 'tag provider'],
      [{ logger: console.log as never }, 'logger', 'function log'],
      [{ tll: 1 } as never, 'tll', 'unknown option', 'ttlMs'],
      [{ ttl: 1 } as never, 'ttl', 'renamed to ttlMs'],
    ]
    for (const [options, ...words] of cases) {
      const { store, subscribed } = watchedStore()
      const error = caught(() => new Cache({ store, ...options }))
      expect(error.code, JSON.stringify(options)).toBe('FST_CACHE_INVALID_OPTION')
      for (const word of words) expect(error.message, JSON.stringify(options)).toContain(word)
      expect(subscribed()).toBe(0)
    }
  })
})

describe('per-call options', () => {
  it('rejects unknown keys and bad values before the loader runs', async () => {
    const cache = new Cache()
    onTestFinished(() => cache.close())
    const loader = vi.fn(async () => 1)
    await expect(cache.getOrSet('k', loader, { ttll: 5 } as never)).rejects.toMatchObject({
      code: 'FST_CACHE_INVALID_OPTION',
      message: expect.stringContaining('ttll: unknown option'),
    })
    await expect(cache.getOrSet('k', loader, { forceFresh: 'yes' as never })).rejects.toMatchObject({
      code: 'FST_CACHE_INVALID_OPTION',
      message: expect.stringContaining('"yes" (string)'),
    })
    await expect(cache.get('k', { staleIfErrorMs: -1 })).rejects.toMatchObject({
      code: 'FST_CACHE_INVALID_OPTION',
    })
    await expect(cache.set('k', 1, { tags: ['t'] })).rejects.toMatchObject({
      code: 'FST_CACHE_NO_TAG_PROVIDER',
    })
    await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({ code: 'FST_CACHE_NO_TAG_PROVIDER' })
    expect(loader).not.toHaveBeenCalled()
  })

  it('wrap() and @cached check their options when they are defined, not at the first call', () => {
    const cache = new Cache()
    onTestFinished(() => cache.close())
    expect(() => cache.wrap(async () => 1, { key: () => 'k', ttlMs: 0 })).toThrow(
      expect.objectContaining({ code: 'FST_CACHE_INVALID_OPTION' }),
    )
    expect(() => cache.wrap(async () => 1, { key: 'k' } as never)).toThrow(
      expect.objectContaining({ code: 'FST_CACHE_INVALID_OPTION' }),
    )
    expect(() => cached({ ttlMs: -1 })).toThrow(expect.objectContaining({ code: 'FST_CACHE_INVALID_OPTION' }))
    expect(() => cached({ tll: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'FST_CACHE_INVALID_OPTION' }),
    )
  })
})

describe('store options', () => {
  it('KeydbStore and MemoryStore refuse bad options before touching the client', async () => {
    const client = new Redis(await redisUrl(), { lazyConnect: true })
    onTestFinished(() => client.disconnect())
    const defineCommand = vi.spyOn(client, 'defineCommand')
    const cases: Array<[unknown, string]> = [
      [{ client, keyPrefix: 'a{b}' }, 'keyPrefix'],
      [{ client, commandTimeoutMs: 0 }, 'commandTimeoutMs'],
      [{ client, generationTtlMs: -1 }, 'generationTtlMs'],
      [{ client, subscriber: 'sub' }, 'subscriber'],
      [{ client, namespace: 'x' }, 'renamed to keyPrefix'],
      [{ client: {} }, 'client'],
    ]
    for (const [options, word] of cases) {
      const error = caught(() => new KeydbStore(options as never))
      expect(error.code).toBe('FST_CACHE_INVALID_OPTION')
      expect(error.message).toContain(word)
    }
    expect(defineCommand).not.toHaveBeenCalled()
    for (const options of [{ maxEntries: 0 }, { maxBytes: 'big' }, { max: 1 }, { now: 5 }])
      expect(caught(() => new MemoryStore(options as never)).code).toBe('FST_CACHE_INVALID_OPTION')
  })
})

describe('plugin options', () => {
  it('every bad option or combination fails registration before a store or a subscription exists', async () => {
    const cases: Array<[(store: MemoryStore) => object, string]> = [
      (() => {
        const engine = new Cache()
        onTestFinished(() => engine.close())
        return [(store: MemoryStore) => ({ cache: engine, store }), 'store: configures the engine'] as [
          (store: MemoryStore) => object,
          string,
        ]
      })(),
      [(store) => ({ store, keyPrefix: 'x' }), 'keyPrefix: configures the KeyDB store'],
      [(store) => ({ store, commandTimeoutMs: 0 }), 'commandTimeoutMs'],
      [(store) => ({ store, breaker: { cooldownMs: -1 } }), 'breaker.cooldownMs'],
      [(store) => ({ store, closeTimeoutMs: '2s' }), 'closeTimeoutMs'],
      [(store) => ({ store, defaults: { ttlMs: 0 } }), 'defaults.ttlMs'],
      [(store) => ({ store, defaults: { l1: false } }), 'defaults.l1: unknown option'],
      [(store) => ({ store, defaults: { store: 1 } }), 'defaults.store'],
      [(store) => ({ store, tagsHeader: 'surrogate-key' }), 'tagsHeader'],
      [(store) => ({ store, tagsHeader: 'bad header' }), '"bad header" (string)'],
      [(store) => ({ store, cacheControl: 'yes' }), 'cacheControl'],
      [(store) => ({ store, keydb: 3 }), 'keydb'],
      [(store) => ({ store, cache: {} }), 'cache: expected a Cache'],
      [(store) => ({ store, storeTimeoutMs: 100 }), 'renamed to commandTimeoutMs'],
    ]
    for (const [options, word] of cases) {
      const { store, subscribed } = watchedStore()
      const app = Fastify()
      const error = await app.register(fastifyCache, options(store) as never).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message: string },
      )
      expect(error?.code, word).toBe('FST_CACHE_INVALID_OPTION')
      expect(error?.message).toContain(word)
      expect(subscribed()).toBe(0)
      await app.close().catch(() => {})
    }
  })

  it('a bad option next to fastify-keydb creates no KeyDB store and no subscriber connection', async () => {
    const app = Fastify()
    onTestFinished(() => app.close())
    await app.register(fastifyKeydb, { url: await redisUrl() })
    const subscriber = vi.spyOn(app.keydb, 'subscriber')
    const error = await app.register(fastifyCache, { keyPrefix: 'no spaces' }).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    )
    expect(error?.code).toBe('FST_CACHE_INVALID_OPTION')
    expect(subscriber).not.toHaveBeenCalled()
    expect('fkRead' in app.keydb).toBe(false)
  })
})

describe('route config', () => {
  it('names method, URL, key and value; route tags need a tag provider', async () => {
    const cases: Array<[unknown, string]> = [
      [{ ttlMs: 0 }, 'ttlMs'],
      [{ tags: () => ['t'] }, 'tags: needs a tag provider'],
      [{ statuses: [700] }, '[ 700 ] (array)'],
      [{ key: 'user' }, '"user" (string)'],
      [{ vary: ['bad header'] }, '"bad header" (string)'],
      [{ staleWhileRevalidate: 1 }, 'renamed to staleWhileRevalidateMs'],
      [[], '[] (array)'],
    ]
    for (const [config, word] of cases) {
      const app = Fastify()
      await app.register(fastifyCache, { store: new MemoryStore() })
      app.get('/r/:id', { config: { cache: config as never } }, async () => 'x')
      const error = await app.ready().then(
        () => undefined,
        (e: unknown) => e as { code?: string; message: string },
      )
      expect(error?.code, word).toBe('FST_CACHE_ROUTE_CONFIG')
      expect(error?.message).toContain('GET /r/:id')
      expect(error?.message).toContain(word)
      await app.close()
    }
  })
})
