import { type CacheStore, fastifyCache } from '@fastkey/fastify-cache'
import { busOf } from '@fastkey/fastify-cache/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createTagProvider, fastifyCacheTags, type TagProviderOptions } from '../src/index.js'
import { deferred, type Kit, kits, sleep } from './helpers.js'

interface Product {
  id: number
  price: number
}

/** The seed scenario: a category list whose tags come from the products it returns. */
async function app(
  store: CacheStore,
  db: { products: Product[]; gate?: () => Promise<void> },
  tagOptions: TagProviderOptions = {},
): Promise<FastifyInstance> {
  const fastify = Fastify()
  await fastify.register(fastifyCache, {
    store,
    tags: createTagProvider(tagOptions),
    tagsHeader: 'surrogate-key',
    l1: { maxEntries: 100 },
  })
  await fastify.register(fastifyCacheTags)
  fastify.get<{ Params: { cat: string } }>(
    '/categories/:cat/products',
    {
      config: {
        cache: {
          ttlMs: 60_000,
          tags: (req, payload) => [
            `cat:${(req.params as { cat: string }).cat}`,
            ...(payload as Product[]).map((p) => `product:${p.id}`),
          ],
        },
      },
    },
    async () => {
      const rows = db.products.map((p) => ({ ...p })) // the read
      await db.gate?.()
      return rows
    },
  )
  onTestFinished(() => fastify.close())
  await fastify.ready()
  for (let i = 0; i < 300 && !busOf(fastify.cache).healthy; i++) await sleep(10)
  return fastify
}

async function waitHeard(instances: FastifyInstance[], by: FastifyInstance, run: () => Promise<void>) {
  const heard =
    by.cacheTags.backendKind === 'memory'
      ? []
      : instances.map((x) => new Promise<void>((resolve) => busOf(x.cache).on('t', () => resolve())))
  await run()
  await Promise.all(heard)
}

describe.each(kits('cache-tags routes'))('route tags on $name', (kit: Kit) => {
  it('tags come from the payload, are sent as surrogate-key, and invalidate the list everywhere', async () => {
    const { store } = await kit.make()
    const db = {
      products: [
        { id: 1, price: 10 },
        { id: 2, price: 20 },
      ],
    }
    const a = await app(store, db)
    const b = await app(kit.twin(store), db)
    const miss = await a.inject('/categories/tv/products')
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.headers['surrogate-key']).toBe('cat:tv product:1 product:2')
    await a.cache.drain() // the fill is written in the background
    for (const x of [a, b, a, b]) {
      const hit = await x.inject('/categories/tv/products')
      expect(hit.headers['x-cache']).toBe('HIT')
      expect(hit.headers['surrogate-key']).toBe('cat:tv product:1 product:2')
    }
    db.products[1]!.price = 25
    // A product changed: its tag alone invalidates every list that contains it.
    await waitHeard([a], b, () => b.cache.invalidateTags(['product:2']))
    for (const x of [a, b]) {
      const res = await x.inject('/categories/tv/products')
      expect(res.json()).toEqual([
        { id: 1, price: 10 },
        { id: 2, price: 25 },
      ])
      await x.cache.drain()
    }
  })

  it(`a handler paused between its read and its reply while an invalidation lands: never served afterwards (50 runs)`, async () => {
    const { store } = await kit.make()
    const db: { products: Product[]; gate?: () => Promise<void> } = { products: [] }
    // clockSkewMs 0: only the server's own clock and the measured elapsed time protect the fill.
    const a = await app(store, db, { clockSkewMs: 0 })
    const b = await app(kit.twin(store), db, { clockSkewMs: 0 })
    for (let run = 0; run < 50; run++) {
      const url = `/categories/c${run}/products`
      db.products = [{ id: run, price: 1 }]
      const read = deferred()
      const resume = deferred()
      db.gate = async () => {
        read.resolve()
        await resume.promise
      }
      const pending = a.inject(url)
      await read.promise
      delete db.gate
      db.products = [{ id: run, price: 2 }]
      await waitHeard([a], b, () => b.cache.invalidateTags([`product:${run}`]))
      resume.resolve()
      expect((await pending).json()).toEqual([{ id: run, price: 1 }])
      await a.cache.drain()
      for (const x of [a, b, a, b]) {
        expect((await x.inject(url)).json()).toEqual([{ id: run, price: 2 }])
        await x.cache.drain()
      }
    }
    // At least the 50 paused loads; a load that starts right after an invalidation (within one round
    // trip) may be refused too: the bound is conservative.
    expect(a.cacheTags.stats.raced).toBeGreaterThanOrEqual(50)
  })

  it('a route filled after an invalidation is stored again', async () => {
    const { store } = await kit.make()
    const db = { products: [{ id: 7, price: 1 }] }
    const a = await app(store, db, { clockSkewMs: 0 })
    await a.inject('/categories/x/products')
    await a.cache.drain()
    await a.cache.invalidateTags(['cat:x'])
    await sleep(20)
    expect((await a.inject('/categories/x/products')).headers['x-cache']).toBe('MISS')
    await a.cache.drain()
    expect((await a.inject('/categories/x/products')).headers['x-cache']).toBe('HIT')
  })

  it('a route whose tags are invalid serves its response but does not cache it (counted as a skip)', async () => {
    const { store } = await kit.make()
    const db = { products: [{ id: 1, price: 1 }] }
    const a = await app(store, db)
    const codes: unknown[] = []
    a.cache.events.on('skip', (e) => codes.push(e.reason))
    for (let i = 0; i < 2; i++) {
      const res = await a.inject('/categories/has%20space/products')
      expect(res.statusCode).toBe(200)
      expect(res.headers['x-cache']).toBe('MISS')
      await a.cache.drain()
    }
    expect(codes).toEqual(['invalid-tags', 'invalid-tags'])
  })
})

describe('fastifyCacheTags plugin', () => {
  it('exposes the provider as fastify.cacheTags', async () => {
    const tags = createTagProvider()
    const fastify = Fastify()
    onTestFinished(() => fastify.close())
    await fastify.register(fastifyCache, { tags })
    await fastify.register(fastifyCacheTags)
    await fastify.ready()
    expect(fastify.cacheTags).toBe(tags)
    expect(fastify.cache.tagProvider).toBe(tags)
  })

  it('refuses an engine without a cache-tags provider, options, and a missing fastify-cache', async () => {
    const noProvider = Fastify()
    onTestFinished(() => noProvider.close())
    await noProvider.register(fastifyCache)
    await expect(noProvider.register(fastifyCacheTags)).rejects.toMatchObject({
      code: 'FST_CACHE_TAGS_NO_PROVIDER',
    })
    const withOptions = Fastify()
    onTestFinished(() => withOptions.close())
    await withOptions.register(fastifyCache, { tags: createTagProvider() })
    await expect(withOptions.register(fastifyCacheTags, { versionTtlMs: 5 } as never)).rejects.toMatchObject({
      code: 'FST_CACHE_TAGS_INVALID_OPTION',
    })
    const alone = Fastify()
    onTestFinished(() => alone.close())
    await expect(alone.register(fastifyCacheTags)).rejects.toMatchObject({
      code: 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED',
    })
  })
})
