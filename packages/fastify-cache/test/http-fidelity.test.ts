import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { buildApp } from './app-helpers.js'
import { type StoreKit, sleep, storeKits } from './helpers.js'
import { send, TRANSPORTS, type Transport } from './transport.js'

// A hit is exactly the response the origin produced for that request (issue 12): status, body and the
// headers the handler set, minus the listed exceptions. Run on every store.

const NEVER = ['no-store', 'private, max-age=60', 'no-cache', 'max-age=0']

/** What a hit must repeat of a response: everything but the per-response and cache headers. */
function comparable(headers: Record<string, unknown>): Record<string, unknown> {
  const { date: _d, 'x-cache': _x, age: _a, connection: _c, 'keep-alive': _k, ...rest } = headers
  return rest
}

async function missThenHit(
  app: FastifyInstance,
  url: string,
  headers: Record<string, string> = {},
  transport: Transport = 'inject',
) {
  const miss = await send(app, transport, { url, headers })
  await app.cache.drain() // the fill is written after the response
  const hit = await send(app, transport, { url, headers })
  return { miss, hit }
}

describe.each(storeKits('http fidelity'))('HTTP fidelity on $name', (kit: StoreKit) => {
  it.each(TRANSPORTS)(
    'a HIT repeats status, body and headers of the MISS: JSON, text, Buffer, a 301, a paginated list (%s)',
    async (transport) => {
      const { store } = await kit.make()
      const app = await buildApp(store, {}, (app) => {
        app.get('/json', { config: { cache: {} } }, async (_req, reply) => {
          reply.header('content-language', 'fr').header('x-custom', 'yes')
          return { id: 1, name: 'écran' }
        })
        app.get('/text', { config: { cache: {} } }, async (_req, reply) => {
          reply.type('text/plain; charset=utf-8').header('content-disposition', 'inline; filename="a.txt"')
          return 'plain text'
        })
        app.get('/bytes', { config: { cache: {} } }, async (_req, reply) => {
          reply.type('application/octet-stream')
          return Buffer.from([0, 1, 2, 253, 254, 255])
        })
        app.get('/old', { config: { cache: { statuses: [200, 301] } } }, async (_req, reply) =>
          reply.redirect('/new', 301),
        )
        app.get('/list', { config: { cache: {} } }, async (_req, reply) => {
          reply.header('link', ['</list?page=2>; rel="next"', '</list?page=9>; rel="last"'])
          reply.header('x-total-count', 90)
          return [{ id: 1 }, { id: 2 }]
        })
      })
      for (const url of ['/json', '/text', '/bytes', '/old', '/list']) {
        const { miss, hit } = await missThenHit(app, url, {}, transport)
        expect(miss.headers['x-cache'], url).toBe('MISS')
        expect(hit.headers['x-cache'], url).toBe('HIT')
        expect(hit.statusCode, url).toBe(miss.statusCode)
        expect(hit.rawPayload.equals(miss.rawPayload), url).toBe(true)
        expect(comparable(hit.headers), url).toEqual(comparable(miss.headers))
      }
      const redirect = await send(app, transport, { url: '/old' })
      expect(redirect.headers.location).toBe('/new')
      const list = await send(app, transport, { url: '/list' })
      // inject keeps the two header lines apart; node's HTTP client joins them with ", " (RFC 9110 5.3).
      expect([list.headers.link].flat().join(', ')).toBe(
        '</list?page=2>; rel="next", </list?page=9>; rel="last"',
      )
      expect(list.headers['x-total-count']).toBe('90')
    },
  )

  it('headers set before the lookup are per request, not replayed (unless kept); omit drops; HEAD gets headers only', async () => {
    const { store } = await kit.make()
    let n = 0
    const app = await buildApp(store, {}, (app) => {
      app.addHook('onRequest', async (_req, reply) => {
        reply.header('x-request-id', `req-${++n}`)
      })
      const handler = async (_req: unknown, reply: { header(n: string, v: string): unknown }) => {
        reply.header('x-trace', 'abc')
        reply.header('x-secret', 'not for the cache')
        return { ok: true }
      }
      app.get('/per-request', { config: { cache: { headers: { omit: ['x-secret'] } } } }, handler)
      app.get('/kept', { config: { cache: { headers: { keep: ['x-request-id'] } } } }, handler)
    })
    const { miss, hit } = await missThenHit(app, '/per-request')
    expect(miss.headers['x-request-id']).toBe('req-1')
    expect(hit.headers['x-request-id']).toBe('req-2') // this request's own id, not the MISS's
    expect(hit.headers['x-trace']).toBe('abc')
    expect(hit.headers['x-secret']).toBeUndefined()
    const head = await app.inject({ method: 'HEAD', url: '/per-request' })
    expect(head.headers['x-cache']).toBe('HIT')
    expect(head.headers['x-trace']).toBe('abc')
    expect(head.body).toBe('')
    const kept = await missThenHit(app, '/kept')
    expect(kept.hit.headers['x-request-id']).toBe(kept.miss.headers['x-request-id'])
  })

  it("the handler's cache-control drives the entry: s-maxage over max-age, capped by maxTtlMs, no-store/private/no-cache not stored", async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      const route = (url: string, cc: string, config: object = {}) =>
        app.get(url, { config: { cache: { ttlMs: 60_000, ...config } } }, async (_req, reply) => {
          reply.header('cache-control', cc)
          return { url }
        })
      route('/short', 'public, max-age=1')
      route('/shared', 'max-age=600, s-maxage=2')
      route('/capped', 'max-age=3600', { maxTtlMs: 5_000 })
      route('/windows', 'max-age=1, stale-while-revalidate=30, stale-if-error=600')
      route('/revalidate', 'max-age=1, stale-while-revalidate=30, must-revalidate')
      for (const [i, cc] of NEVER.entries()) route(`/never/${i}`, cc)
    })
    const entry = async (url: string) => {
      await app.inject(url)
      await app.cache.drain()
      const hit = await app.inject(url)
      return { hit, stored: hit.headers['x-cache'] === 'HIT' }
    }
    for (const url of ['/short', '/shared', '/capped', '/windows', '/revalidate'])
      expect((await entry(url)).stored, url).toBe(true)
    for (const [i, cc] of NEVER.entries()) {
      const { hit, stored } = await entry(`/never/${i}`)
      expect(stored, cc).toBe(false)
      expect(hit.statusCode).toBe(200)
    }
    // Freshness as the headers said: after 1.1 s /short is no longer fresh, /shared (s-maxage=2) is.
    await sleep(1_100)
    expect((await app.inject('/short')).headers['x-cache']).toBe('MISS')
    expect((await app.inject('/shared')).headers['x-cache']).toBe('HIT')
    expect((await app.inject('/windows')).headers['x-cache']).toBe('STALE') // stale-while-revalidate=30
    expect((await app.inject('/revalidate')).headers['x-cache']).toBe('MISS') // must-revalidate: never stale
    await sleep(1_000)
    expect((await app.inject('/shared')).headers['x-cache']).toBe('MISS')
  })

  it('reply.cachePolicy() sets one response entry: its ttl, or not storing it', async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/p/:id', { config: { cache: { ttlMs: 60_000 } } }, async (req, reply) => {
        const { id } = req.params as { id: string }
        if (id === 'draft') reply.cachePolicy({ store: false })
        if (id === 'brief') reply.cachePolicy({ ttlMs: 300 })
        return { id }
      })
    })
    expect((await missThenHit(app, '/p/draft')).hit.headers['x-cache']).toBe('MISS')
    expect((await missThenHit(app, '/p/brief')).hit.headers['x-cache']).toBe('HIT')
    await sleep(400)
    expect((await app.inject('/p/brief')).headers['x-cache']).toBe('MISS')
    const bad = await buildApp(store, {}, (app) => {
      app.get('/bad', { config: { cache: {} } }, async (_req, reply) => {
        reply.cachePolicy({ ttlMs: -1 })
        return 'x'
      })
    })
    const res = await bad.inject('/bad')
    expect(res.statusCode).toBe(500) // a programming error of the handler, with its code
    expect(res.json().code).toBe('FST_CACHE_INVALID_OPTION')
  })

  it('answers if-none-match and if-modified-since with 304 on a hit', async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/doc', { config: { cache: {} } }, async (_req, reply) => {
        reply.header('last-modified', 'Tue, 01 Dec 2026 10:00:00 GMT')
        return 'doc'
      })
    })
    const { hit } = await missThenHit(app, '/doc')
    const etag = hit.headers.etag as string
    expect((await app.inject({ url: '/doc', headers: { 'if-none-match': etag } })).statusCode).toBe(304)
    expect(
      (await app.inject({ url: '/doc', headers: { 'if-modified-since': 'Tue, 01 Dec 2026 11:00:00 GMT' } }))
        .statusCode,
    ).toBe(304)
    expect(
      (await app.inject({ url: '/doc', headers: { 'if-modified-since': 'Tue, 01 Dec 2026 09:00:00 GMT' } }))
        .statusCode,
    ).toBe(200)
  })
})
