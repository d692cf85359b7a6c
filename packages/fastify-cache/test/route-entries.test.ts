import { describe, expect, it } from 'vitest'
import { buildApp } from './app-helpers.js'
import { storeKits } from './helpers.js'

// One route entry, addressed by URL: invalidated (every vary variant too), refreshed or warmed without
// a client request, with the key the route itself builds.

describe.each(storeKits('route entries'))('route entries on $name', (kit) => {
  it('invalidateRoute deletes exactly the entry the route built for that URL (and its variants)', async () => {
    const { store } = await kit.make()
    let version = 0
    const app = await buildApp(store, {}, (app) => {
      app.get('/p/:id', { config: { cache: {} } }, async (req) => ({
        id: (req.params as { id: string }).id,
        version,
      }))
      app.get('/greet', { config: { cache: {} } }, async (req, reply) => {
        reply.header('vary', 'accept-language')
        return { lang: req.headers['accept-language'], version }
      })
    })
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const res = await app.inject({ url, headers })
      await app.cache.drain()
      return res
    }
    await get('/p/1?view=full')
    await get('/p/2')
    for (const lang of ['fr', 'fr', 'de']) await get('/greet', { 'accept-language': lang })
    version = 1
    expect(await app.cache.invalidateRoute('/p/1?view=full')).toBe(1)
    expect((await get('/p/1?view=full')).json()).toEqual({ id: '1', version: 1 })
    expect((await get('/p/2')).json()).toEqual({ id: '2', version: 0 }) // another URL: untouched
    expect((await get('/p/2')).headers['x-cache']).toBe('HIT')
    // Every variant of /greet goes, whatever headers are given.
    expect(await app.cache.invalidateRoute('/greet')).toBeGreaterThanOrEqual(2)
    expect((await get('/greet', { 'accept-language': 'fr' })).json()).toMatchObject({ version: 1 })
    expect((await get('/greet', { 'accept-language': 'de' })).json()).toMatchObject({ version: 1 })
  })

  it('refreshRoute runs the handler and stores its answer; warm fills missing entries, runs nothing for fresh ones', async () => {
    const { store } = await kit.make()
    let calls = 0
    const app = await buildApp(store, {}, (app) => {
      app.get('/item/:id', { config: { cache: {} } }, async (req) => ({
        id: (req.params as { id: string }).id,
        call: ++calls,
      }))
    })
    const warmed = await app.cache.warm(['/item/1', '/item/2', '/item/3'])
    expect(warmed.map((r) => r.cache)).toEqual(['MISS', 'MISS', 'MISS'])
    await app.cache.drain()
    expect((await app.cache.warm(['/item/1', '/item/2'])).map((r) => r.cache)).toEqual(['HIT', 'HIT'])
    expect(calls).toBe(3)
    const refreshed = await app.cache.refreshRoute('/item/2')
    expect(refreshed).toEqual({ url: '/item/2', status: 200, cache: 'MISS' })
    await app.cache.drain()
    const hit = await app.inject('/item/2')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.json()).toEqual({ id: '2', call: 4 })
  })

  it('a URL no cached route matches is a coded error; an absolute URL gives its host', async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/cached', { config: { cache: {} } }, async (req) => ({ host: req.host }))
      app.get('/plain', async () => 'not cached')
    })
    await expect(app.cache.invalidateRoute('/plain')).rejects.toMatchObject({
      code: 'FST_CACHE_NOT_A_CACHED_ROUTE',
    })
    await expect(app.cache.refreshRoute('/nowhere')).rejects.toMatchObject({
      code: 'FST_CACHE_NOT_A_CACHED_ROUTE',
    })
    await expect(app.cache.warm(['/cached'], { hots: 'x' } as never)).rejects.toMatchObject({
      code: 'FST_CACHE_INVALID_OPTION',
    })
    await app.inject({ url: '/cached', headers: { host: 'shop.test' } })
    await app.cache.drain()
    expect(await app.cache.invalidateRoute('/cached')).toBe(0) // localhost:80 had no entry
    expect(await app.cache.invalidateRoute('http://shop.test/cached')).toBe(1)
  })
})
