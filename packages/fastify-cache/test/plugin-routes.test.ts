import { describe, expect, it, vi } from 'vitest'
import { buildApp } from './app-helpers.js'
import { deferred, type StoreKit, sleep, storeKits } from './helpers.js'

describe.each(storeKits('route cache'))('route cache on $name', (kit: StoreKit) => {
  it('invariant 1: 500 concurrent cold requests over 3 instances run the handler once', async () => {
    const { store } = await kit.make()
    let calls = 0
    const routes = (app: import('fastify').FastifyInstance) =>
      app.get(
        '/cold',
        { config: { cache: { ttlMs: 60_000, lock: { ttlMs: 10_000, waitMs: 8_000 } } } },
        async () => {
          calls++
          await sleep(100)
          return { value: 'the one', at: calls }
        },
      )
    const apps = await Promise.all([
      buildApp(store, {}, routes),
      buildApp(kit.twin(store), {}, routes),
      buildApp(kit.twin(store), {}, routes),
    ])
    await Promise.all(apps.map((app) => app.cache.ready()))
    const responses = await Promise.all(Array.from({ length: 500 }, (_, i) => apps[i % 3]!.inject('/cold')))
    expect(calls).toBe(1)
    const bodies = new Set(responses.map((r) => r.body))
    expect(bodies).toEqual(new Set([JSON.stringify({ value: 'the one', at: 1 })]))
    expect(responses.every((r) => r.statusCode === 200)).toBe(true)
    expect(responses.filter((r) => r.headers['x-cache'] === 'MISS').length).toBe(1)
  })

  it('a hit returns the exact bytes, status and content-type of the miss (JSON, text, Buffer)', async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/json', { config: { cache: {} } }, async () => ({ a: 1, text: 'é ünïcode', list: [1, 2] }))
      app.get('/text', { config: { cache: {} } }, async (_req, reply) => {
        reply.type('text/plain; charset=utf-8').code(200)
        return 'plain text\n'
      })
      app.get('/bin', { config: { cache: {} } }, async (_req, reply) => {
        reply.type('application/octet-stream')
        return Buffer.from([0, 1, 2, 250, 255])
      })
      app.get('/created', { config: { cache: { statuses: [203] } } }, async (_req, reply) => {
        reply.code(203).type('application/vnd.test+json')
        return { ok: true }
      })
    })
    for (const url of ['/json', '/text', '/bin', '/created']) {
      const miss = await app.inject(url)
      const hit = await app.inject(url)
      expect(miss.headers['x-cache'], url).toBe('MISS')
      expect(hit.headers['x-cache'], url).toBe('HIT')
      expect(hit.rawPayload.equals(miss.rawPayload), url).toBe(true)
      expect(hit.statusCode).toBe(miss.statusCode)
      expect(hit.headers['content-type']).toBe(miss.headers['content-type'])
      expect(hit.headers.etag).toBe(miss.headers.etag)
      expect(hit.headers.age).toBe('0')
    }
  })

  it('etag and 304, HEAD from the GET entry, cache-control emission', async () => {
    const { store } = await kit.make()
    const handler = vi.fn(async () => ({ hello: 'world' }))
    const app = await buildApp(store, {}, (app) => {
      app.get(
        '/etag',
        { config: { cache: { ttlMs: 120_000, staleWhileRevalidateMs: 30_000, cacheControl: true } } },
        handler,
      )
    })
    const miss = await app.inject('/etag')
    expect(miss.headers['cache-control']).toBe('public, max-age=120, stale-while-revalidate=30')
    const etag = miss.headers.etag as string
    expect(etag).toMatch(/^"[\w-]+"$/)
    const notModified = await app.inject({ url: '/etag', headers: { 'if-none-match': etag } })
    expect(notModified.statusCode).toBe(304)
    expect(notModified.body).toBe('')
    expect(notModified.headers['x-cache']).toBe('HIT')
    const head = await app.inject({ method: 'HEAD', url: '/etag' })
    expect(head.statusCode).toBe(200)
    expect(head.headers['x-cache']).toBe('HIT')
    expect(head.body).toBe('')
    expect(head.headers['content-type']).toBe(miss.headers['content-type'])
    expect(handler).toHaveBeenCalledTimes(1)
  })

  it('stale-while-revalidate: STALE once expired, exactly one refresh, then fresh', async () => {
    const { store } = await kit.make()
    let version = 0
    const app = await buildApp(store, {}, (app) => {
      app.get('/swr', { config: { cache: { ttlMs: 100, staleWhileRevalidateMs: 10_000 } } }, async () => {
        await sleep(30)
        return { version: ++version }
      })
    })
    expect((await app.inject('/swr')).json()).toEqual({ version: 1 })
    await sleep(150)
    const stale = await Promise.all(Array.from({ length: 30 }, () => app.inject('/swr')))
    for (const r of stale) {
      expect(r.headers['x-cache']).toBe('STALE')
      expect(r.json()).toEqual({ version: 1 })
    }
    await app.cache.drain()
    expect(version).toBe(2)
    const fresh = await app.inject('/swr')
    expect(fresh.headers['x-cache']).toBe('HIT')
    expect(fresh.json()).toEqual({ version: 2 })
  })

  it('stale-if-error: stale inside grace; outside grace the origin error passes through unchanged', async () => {
    const { store } = await kit.make()
    let failing = false
    const app = await buildApp(store, {}, (app) => {
      app.get('/sie', { config: { cache: { ttlMs: 50, staleIfErrorMs: 300 } } }, async (_req, reply) => {
        if (failing) {
          reply.code(503)
          return { error: 'origin down' }
        }
        return { ok: 'cached' }
      })
    })
    await app.inject('/sie')
    await sleep(100)
    failing = true
    const stale = await app.inject('/sie')
    expect(stale.statusCode).toBe(200)
    expect(stale.headers['x-cache']).toBe('STALE')
    expect(stale.json()).toEqual({ ok: 'cached' })
    await sleep(350)
    const error = await app.inject('/sie')
    expect(error.statusCode).toBe(503)
    expect(error.json()).toEqual({ error: 'origin down' })
    expect(error.headers['x-cache']).toBe('MISS')
  })

  it('origin down: a burst on one key inside grace costs the origin one attempt, all get stale', async () => {
    const { store } = await kit.make()
    let failing = false
    let attempts = 0
    const app = await buildApp(store, {}, (app) => {
      app.get('/burst', { config: { cache: { ttlMs: 50, staleIfErrorMs: 10_000 } } }, async () => {
        if (failing) {
          attempts++
          await sleep(50)
          throw new Error('db down')
        }
        return { ok: 'cached' }
      })
    })
    await app.inject('/burst')
    await sleep(100)
    failing = true
    const burst = await Promise.all(Array.from({ length: 20 }, () => app.inject('/burst')))
    expect(attempts).toBe(1)
    for (const r of burst) {
      expect(r.statusCode).toBe(200)
      expect(r.headers['x-cache']).toBe('STALE')
      expect(r.json()).toEqual({ ok: 'cached' })
    }
  })

  it('a thrown handler error inside grace also serves stale', async () => {
    const { store } = await kit.make()
    let failing = false
    const app = await buildApp(store, {}, (app) => {
      app.get('/throw', { config: { cache: { ttlMs: 50, staleIfErrorMs: 5_000 } } }, async () => {
        if (failing) throw new Error('db exploded')
        return { ok: 1 }
      })
    })
    await app.inject('/throw')
    await sleep(100)
    failing = true
    const r = await app.inject('/throw')
    expect(r.statusCode).toBe(200)
    expect(r.json()).toEqual({ ok: 1 })
    expect(r.headers['x-cache']).toBe('STALE')
  })

  it('a lock holder that never releases: waiters run the handler after lock.waitMs', async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/stuck', { config: { cache: { lock: { ttlMs: 60_000, waitMs: 200 } } } }, async () => ({
        ok: true,
      }))
    })
    const keyOf = await captureKey(app, '/stuck')
    expect((await store.acquireLock(keyOf, 'someone-dead', 60_000)).acquired).toBe(true)
    const started = performance.now()
    const r = await app.inject('/stuck')
    expect(r.statusCode).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(190)
    expect(performance.now() - started).toBeLessThan(3_000)
  })

  it('key: params, canonical query and vary headers; user input cannot collide', async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/items/:id', { config: { cache: { vary: ['accept-language'] } } }, async (req) => ({
        params: req.params,
        query: req.query,
        lang: req.headers['accept-language'] ?? null,
      }))
    })
    const a = await app.inject('/items/1?b=2&a=1')
    const b = await app.inject('/items/1?a=1&b=2')
    expect(b.headers['x-cache']).toBe('HIT')
    expect(b.body).toBe(a.body)
    expect(a.headers.vary).toBe('accept-language')
    for (const url of [
      '/items/1?a=1&b=3',
      '/items/1%7C2?a=1&b=2',
      '/items/1?a=1%26b%3D2',
      '/items/2?a=1&b=2',
    ]) {
      const r = await app.inject(url)
      expect(r.headers['x-cache'], url).toBe('MISS')
    }
    const fr = await app.inject({ url: '/items/1?a=1&b=2', headers: { 'accept-language': 'fr' } })
    expect(fr.headers['x-cache']).toBe('MISS')
    expect(fr.json().lang).toBe('fr')
    const long = await app.inject({ url: '/items/1', headers: { 'accept-language': 'x'.repeat(300) } })
    expect(long.headers['x-cache']).toBe('BYPASS')
  })

  it('negative caching of 404 only when asked', async () => {
    const { store } = await kit.make()
    const handler = vi.fn(async (_req: unknown, reply: import('fastify').FastifyReply) => {
      reply.code(404)
      return { error: 'not found' }
    })
    const app = await buildApp(store, {}, (app) => {
      app.get('/nf', { config: { cache: {} } }, handler)
      app.get('/nf-cached', { config: { cache: { negativeTtlMs: 5_000 } } }, handler)
    })
    await app.inject('/nf')
    expect((await app.inject('/nf')).headers['x-cache']).toBe('MISS')
    await app.inject('/nf-cached')
    const hit = await app.inject('/nf-cached')
    expect(hit.statusCode).toBe(404)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(handler).toHaveBeenCalledTimes(3)
  })
})

/** The key the plugin builds for `url`, read from the miss event. */
async function captureKey(app: import('fastify').FastifyInstance, url: string): Promise<string> {
  const gate = deferred<string>()
  const off = app.cache.events.on('miss', (e) => gate.resolve(e.key))
  await app.inject({ url, headers: { authorization: 'x' } }) // bypasses: no fill
  const probe = app.inject(url)
  const key = await gate.promise
  off()
  await probe
  await app.cache.drain() // the probe's fill (write, lock release) runs after its response
  await app.cache.delete(key)
  return key
}
