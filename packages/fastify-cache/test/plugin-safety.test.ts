import Fastify from 'fastify'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { Cache, fastifyCache, MemoryStore } from '../src/index.js'
import { buildApp } from './app-helpers.js'

describe('route cache safety (DESIGN 8)', () => {
  it('only GET and HEAD are cached; other methods of a cached route bypass', async () => {
    const handler = vi.fn(async () => ({ ok: true }))
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.route({ method: ['GET', 'POST'], url: '/both', config: { cache: {} }, handler })
    })
    await app.inject({ method: 'POST', url: '/both' })
    const post = await app.inject({ method: 'POST', url: '/both' })
    expect(post.headers['x-cache']).toBe('BYPASS')
    expect(handler).toHaveBeenCalledTimes(2)
  })

  it('responses with set-cookie, cache-control private/no-store or vary: * are never stored', async () => {
    const calls: Record<string, number> = {}
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      const route = (url: string, header: [string, string]) =>
        app.get(url, { config: { cache: {} } }, async (_req, reply) => {
          calls[url] = (calls[url] ?? 0) + 1
          reply.header(header[0], header[1])
          return { url }
        })
      route('/cookie', ['set-cookie', 'session=abc'])
      route('/private', ['cache-control', 'private, max-age=60'])
      route('/nostore', ['cache-control', 'no-store'])
      route('/varystar', ['vary', '*'])
    })
    for (const url of ['/cookie', '/private', '/nostore', '/varystar']) {
      await app.inject(url)
      const again = await app.inject(url)
      expect(again.headers['x-cache'], url).toBe('MISS')
      expect(calls[url], url).toBe(2)
    }
  })

  it('requests with authorization or cookie bypass unless the route keys per user', async () => {
    const handler = vi.fn(async (req: import('fastify').FastifyRequest) => ({
      user: req.headers.authorization ?? null,
    }))
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/shared', { config: { cache: {} } }, handler)
      app.get('/mine', { config: { cache: { key: (req) => String(req.headers.authorization) } } }, handler)
    })
    await app.inject('/shared') // fills the anonymous entry
    const withAuth = await app.inject({ url: '/shared', headers: { authorization: 'Bearer alice' } })
    expect(withAuth.headers['x-cache']).toBe('BYPASS')
    expect(withAuth.json()).toEqual({ user: 'Bearer alice' })
    const withCookie = await app.inject({ url: '/shared', headers: { cookie: 'sid=1' } })
    expect(withCookie.headers['x-cache']).toBe('BYPASS')

    const alice1 = await app.inject({ url: '/mine', headers: { authorization: 'alice' } })
    const bob = await app.inject({ url: '/mine', headers: { authorization: 'bob' } })
    const alice2 = await app.inject({ url: '/mine', headers: { authorization: 'alice' } })
    expect(alice1.headers['x-cache']).toBe('MISS')
    expect(bob.headers['x-cache']).toBe('MISS')
    expect(bob.json()).toEqual({ user: 'bob' })
    expect(alice2.headers['x-cache']).toBe('HIT')
    expect(alice2.json()).toEqual({ user: 'alice' })
  })

  it('unkeyed headers (x-forwarded-host) cannot change what others get', async () => {
    for (const trustProxy of [false, true]) {
      const app = await buildApp(
        new MemoryStore(),
        {},
        (app) => {
          app.get('/page', { config: { cache: {} } }, async (req) => ({ host: req.host }))
        },
        { trustProxy },
      )
      const attack = await app.inject({
        url: '/page',
        headers: { host: 'shop.test', 'x-forwarded-host': 'evil.test' },
      })
      expect(attack.json().host).toBe(trustProxy ? 'evil.test' : 'shop.test')
      const victim = await app.inject({ url: '/page', headers: { host: 'shop.test' } })
      expect(victim.json(), `trustProxy ${trustProxy}`).toEqual({ host: 'shop.test' })
    }
  })

  it('error responses (400 from validation, 500) are never stored', async () => {
    const handler = vi.fn(async () => ({ ok: true }))
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get(
        '/validated',
        {
          config: { cache: {} },
          schema: {
            querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
          },
        },
        handler,
      )
    })
    const bad1 = await app.inject('/validated?n=abc')
    const bad2 = await app.inject('/validated?n=abc')
    expect(bad1.statusCode).toBe(400)
    expect(bad2.headers['x-cache']).toBe('MISS')
    expect((await app.inject('/validated?n=1')).statusCode).toBe(200)
  })

  it('x-cache is on every response of a cached route and on no other route', async () => {
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/cached', { config: { cache: {} } }, async () => 'x')
      app.get('/plain', async () => 'y')
      app.get('/off', { config: { cache: false } }, async () => 'z')
    })
    expect((await app.inject('/cached')).headers['x-cache']).toBe('MISS')
    expect((await app.inject('/cached')).headers['x-cache']).toBe('HIT')
    expect((await app.inject('/plain')).headers['x-cache']).toBeUndefined()
    expect((await app.inject('/off')).headers['x-cache']).toBeUndefined()
  })

  it('a 5 MiB response over maxValueBytes is served whole and not stored', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024)
    const handler = vi.fn(async () => big)
    const app = await buildApp(new MemoryStore(), { defaults: { maxValueBytes: 1024 * 1024 } }, (app) => {
      app.get('/big', { config: { cache: {} } }, handler)
    })
    const skips: unknown[] = []
    app.cache.events.on('skip', (e) => skips.push(e))
    const first = await app.inject('/big')
    const second = await app.inject('/big')
    expect(first.body.length).toBe(big.length)
    expect(second.body.length).toBe(big.length)
    expect(second.headers['x-cache']).toBe('MISS')
    expect(handler).toHaveBeenCalledTimes(2)
    expect(skips).toHaveLength(2)
  })
})

describe('plugin options and route config errors', () => {
  it('bad route configs fail ready() with FST_CACHE_ROUTE_CONFIG naming method and URL', async () => {
    const bad: unknown[] = [
      { ttlMs: -1 },
      { ttlMs: 'long' },
      { staleWhileRevalidateMs: -1 },
      { jitter: 3 },
      { lock: { waitMs: -1 } },
      { l1: 'yes' },
      { negativeTtlMs: -5 },
      { maxValueBytes: 0 },
      { key: 'user' },
      { tags: ['a'] },
      { bypass: true },
      { vary: ['bad header'] },
      { vary: ['authorization'] },
      { statuses: [99] },
      { cacheControl: 'yes' },
      { timeoutMs: -1 },
      { maxTtlMs: 0 },
      { maxVariants: 0 },
      { hook: 'onSend' },
      { headers: { keep: ['set-cookie'] } },
      { headers: { drop: ['x'] } },
      { refresh: true },
      { beta: -1 },
      { tll: 1 },
      'yes',
    ]
    for (const config of bad) {
      const app = Fastify()
      await app.register(fastifyCache, { store: new MemoryStore() })
      app.get('/r', { config: { cache: config as never } }, async () => 'x')
      const error = await app.ready().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, JSON.stringify(config)).toMatchObject({ code: 'FST_CACHE_ROUTE_CONFIG' })
      expect(String((error as Error).message)).toContain('GET /r')
      await app.close()
    }
  })

  it('caching a POST-only route is a config error', async () => {
    const app = Fastify()
    await app.register(fastifyCache, { store: new MemoryStore() })
    app.post('/p', { config: { cache: {} } }, async () => 'x')
    await expect(app.ready()).rejects.toMatchObject({ code: 'FST_CACHE_ROUTE_CONFIG' })
    await app.close()
  })

  it('bad plugin options fail registration with FST_CACHE_INVALID_OPTION', async () => {
    const bad: unknown[] = [
      { defaults: { ttlMs: 0 } },
      { keyPrefix: 'has space' },
      { keyPrefix: '' },
      { cacheControl: 1 },
      { l1: { maxEntries: -1 } },
      { keydb: true },
      { keydb: 'sessions' },
      { unknownOption: 1 },
    ]
    for (const options of bad) {
      const app = Fastify()
      const error = await app.register(fastifyCache, options as never).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, JSON.stringify(options)).toMatchObject({ code: 'FST_CACHE_INVALID_OPTION' })
      await app.close().catch(() => {})
    }
  })

  it('registering twice is FST_CACHE_ALREADY_REGISTERED', async () => {
    const app = Fastify()
    onTestFinished(() => app.close())
    await app.register(fastifyCache, { store: new MemoryStore() })
    await expect(app.register(fastifyCache, { store: new MemoryStore() })).rejects.toMatchObject({
      code: 'FST_CACHE_ALREADY_REGISTERED',
    })
  })

  it('an engine passed in is used and left open on close', async () => {
    const cache = new Cache()
    onTestFinished(() => cache.close())
    const app = Fastify()
    await app.register(fastifyCache, { cache })
    app.get('/x', { config: { cache: {} } }, async () => 'shared')
    await app.inject('/x')
    await app.close()
    expect(await cache.getMany(['never'])).toEqual([undefined])
  })

  it('memory store is the default without fastify.keydb', async () => {
    const app = Fastify()
    onTestFinished(() => app.close())
    await app.register(fastifyCache)
    expect(app.cache.store.kind).toBe('memory')
  })
})
