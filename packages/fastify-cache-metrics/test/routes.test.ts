import { MemoryStore } from '@fastkey/fastify-cache'
import { afterEach, describe, expect, it } from 'vitest'
import { buildApp, get, keydbStore, ourGlobalMetrics, P, scrape } from './helpers.js'

afterEach(() => {
  expect(ourGlobalMetrics()).toEqual([])
})

describe('route metrics', () => {
  it('hits by tier (l1, keydb), misses, bytes stored and the L1 gauges, labelled by route pattern', async () => {
    const { store, client } = await keydbStore()
    const { app } = await buildApp({
      store,
      cache: { l1: { maxEntries: 100 } },
      routes(app) {
        app.get('/items/:id', { config: { cache: {} } }, async (req) => ({
          id: (req.params as { id: string }).id,
        }))
        app.get('/direct/:id', { config: { cache: { l1: false } } }, async () => ({
          direct: 'x'.repeat(300),
        }))
      },
    })
    const written: string[] = []
    app.cache.events.on('set', (e) => {
      if (e.written) written.push(e.key)
    })

    expect((await get(app, '/items/1')).headers['x-cache']).toBe('MISS')
    expect((await get(app, '/items/1')).headers['x-cache']).toBe('HIT') // from L1
    expect((await get(app, '/items/1')).headers['x-cache']).toBe('HIT')
    expect((await get(app, '/direct/7')).headers['x-cache']).toBe('MISS')
    expect((await get(app, '/direct/7')).headers['x-cache']).toBe('HIT') // from KeyDB: the route skips L1

    const m = await scrape(app)
    expect(m.series(`${P}hits_total`)).toEqual({
      'route=/items/:id,tier=l1': 2,
      'route=/direct/:id,tier=keydb': 1,
    })
    expect(m.series(`${P}misses_total`)).toEqual({ 'route=/items/:id': 1, 'route=/direct/:id': 1 })
    // The bytes KeyDB holds, read back from KeyDB itself.
    expect(written).toHaveLength(2)
    const sizes = await Promise.all(written.map((key) => client.strlen(`${store.keyPrefix}:e:{${key}}`)))
    expect(sizes.every((n) => n > 0)).toBe(true)
    expect(m.series(`${P}stored_bytes_total`)).toEqual({
      'route=/items/:id': sizes[0],
      'route=/direct/:id': sizes[1],
    })
    expect(m.value(`${P}l1_entries`)).toBe(1)
    expect(m.value(`${P}l1_bytes`)).toBe(app.cache.l1Stats.bytes)
    expect(app.cache.l1Stats.bytes).toBeGreaterThan(0)
    expect(m.value(`${P}circuit_state`)).toBe(0)
    expect(m.series(`${P}invalidations_pending`)).toEqual({ 'kind=keys': 0, 'kind=tags': 0, 'kind=clear': 0 })
    expect(m.series(`${P}stale_total`)).toEqual({})
    expect(m.series(`${P}bypasses_total`)).toEqual({})
  })

  it('stale-while-revalidate and stale-if-error, on the memory store (tier label `memory`)', async () => {
    let now = 1_000_000
    let fail = false
    const { app } = await buildApp({
      store: new MemoryStore({ now: () => now }),
      routes(app) {
        app.get(
          '/swr',
          { config: { cache: { ttlMs: 1_000, staleWhileRevalidateMs: 60_000 } } },
          async () => ({
            at: now,
          }),
        )
        app.get('/sie', { config: { cache: { ttlMs: 1_000, staleIfErrorMs: 60_000 } } }, async () => {
          if (fail) throw new Error('origin down')
          return { at: now }
        })
      },
    })
    await get(app, '/swr')
    await get(app, '/sie')
    now += 1_500
    fail = true
    expect((await get(app, '/swr')).headers['x-cache']).toBe('STALE') // refresh ran in the background
    const sie = await get(app, '/sie')
    expect(sie.statusCode).toBe(200)
    expect(sie.headers['x-cache']).toBe('STALE')
    expect((await get(app, '/swr')).headers['x-cache']).toBe('HIT') // the refreshed entry

    const m = await scrape(app)
    expect(m.series(`${P}stale_total`)).toEqual({
      'reason=revalidate,route=/swr': 1,
      'reason=error,route=/sie': 1,
    })
    expect(m.series(`${P}misses_total`)).toEqual({ 'route=/swr': 1, 'route=/sie': 2 })
    expect(m.series(`${P}hits_total`)).toEqual({ 'route=/swr,tier=memory': 1 })
  })

  it('bypasses by reason, and values not cached (too large, uncacheable status)', async () => {
    const { app } = await buildApp({
      routes(app) {
        app.get('/items/:id', { config: { cache: {} } }, async () => ({ ok: true }))
        app.get('/big', { config: { cache: { maxValueBytes: 16 } } }, async () => ({ big: 'x'.repeat(64) }))
        app.get('/teapot', { config: { cache: {} } }, async (_req, reply) => reply.code(418).send('no'))
      },
    })
    expect((await get(app, '/items/1', { authorization: 'Bearer x' })).headers['x-cache']).toBe('BYPASS')
    await get(app, '/items/1', { authorization: 'Bearer y' })
    await get(app, '/items/2', { cookie: 'sid=1' })
    await get(app, '/big')
    await get(app, '/big')
    await get(app, '/teapot')

    const m = await scrape(app)
    expect(m.series(`${P}bypasses_total`)).toEqual({
      'reason=authorization,route=/items/:id': 2,
      'reason=cookie,route=/items/:id': 1,
    })
    expect(m.series(`${P}skips_total`)).toEqual({
      'reason=too-large,route=/big': 2,
      'reason=uncacheable,route=/teapot': 1,
    })
    expect(m.series(`${P}misses_total`)).toEqual({ 'route=/big': 2, 'route=/teapot': 1 })
    expect(m.series(`${P}stored_bytes_total`)).toEqual({})
  })

  it('the number of series stays flat under 1,000 distinct paths of a param route', async () => {
    const { app } = await buildApp({
      routes(app) {
        app.get('/products/:id', { config: { cache: {} } }, async (req) => ({
          id: (req.params as { id: string }).id,
        }))
      },
    })
    const ids = Array.from({ length: 1_000 }, () => Math.random().toString(36).slice(2))
    const ours = (samples: Array<{ name: string }>) => samples.filter((s) => s.name.startsWith(P)).length
    for (const id of ids.slice(0, 5)) await get(app, `/products/${id}`)
    await get(app, `/products/${ids[0]}`)
    const before = await scrape(app)
    for (const id of ids.slice(5)) await app.inject(`/products/${id}`)
    await app.cache.drain()
    for (const id of ids.slice(0, 20)) await app.inject(`/products/${id}`)
    const after = await scrape(app)

    expect(ours(after.samples)).toBe(ours(before.samples))
    expect(after.series(`${P}misses_total`)).toEqual({ 'route=/products/:id': 1_000 })
    expect(after.series(`${P}hits_total`)).toEqual({ 'route=/products/:id,tier=memory': 21 })
    const labelValues = after.samples.flatMap((s) => Object.values(s.labels))
    expect(labelValues.some((v) => ids.some((id) => v.includes(id)))).toBe(false)
  })
})
