import type { FastifyInstance, FastifyRequest } from 'fastify'
import { beforeAll, describe, expect } from 'vitest'
import { buildApp, sharedRedisNamespace } from '../src/apps.js'
import { shoot } from '../src/load.js'
import { type ScenarioContext, scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

async function redisApp(
  ctx: ScenarioContext,
  label: string,
  routes: (app: FastifyInstance) => void,
  trustProxy = false,
) {
  const { url, namespace } = await sharedRedisNamespace(ctx, label)
  return buildApp(ctx, { keydb: { url }, cache: { keyPrefix: namespace }, fastify: { trustProxy }, routes })
}

const userOf = (req: FastifyRequest) =>
  (req.headers.authorization ?? '').replace(/^Bearer /, '') ||
  /sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ||
  ''

describe('security: what the cache stores and for whom', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'set-cookie-never-stored',
      area: 'security',
      title: 'Responses with set-cookie are never stored',
      did: '20 requests to a route that sets a fresh session cookie each time, and 20 to a route that sets one on the first visit only',
      criterion:
        "no response carries another response's cookie; cookie responses are never HITs; the cookie-less response is cached without the cookie",
    },
    async (ctx) => {
      const { fig } = ctx
      let n = 0
      let firstVisit = true
      const app = await redisApp(ctx, 'cookie', (app) => {
        app.get('/session', { config: { cache: {} } }, async (_req, reply) => {
          fig.origin()
          reply.header('set-cookie', `session=s${++n}; HttpOnly`)
          return { n }
        })
        app.get('/welcome', { config: { cache: {} } }, async (_req, reply) => {
          fig.origin()
          if (firstVisit) reply.header('set-cookie', 'visited=alice-secret')
          firstVisit = false
          return { hello: true }
        })
      })
      const seen = new Set<string>()
      for (let i = 0; i < 20; i++) {
        const s = await shoot(app, '/session', fig)
        const cookie = String(s.headers['set-cookie'])
        if (seen.has(cookie) || s.xCache === 'HIT') fig.violation(`/session: ${cookie} ${s.xCache}`)
        seen.add(cookie)
      }
      const welcome = []
      for (let i = 0; i < 20; i++) welcome.push(await shoot(app, '/welcome', fig))
      await app.cache.drain()
      welcome.slice(1).forEach((s) => {
        if (s.headers['set-cookie'] !== undefined)
          fig.violation(`/welcome leaked set-cookie: ${s.headers['set-cookie']}`)
      })
      const hits = welcome.filter((s) => s.xCache === 'HIT').length
      fig.set('/welcome HITs (after the cookie-less fill)', hits)
      expect(fig.details).toEqual([])
      expect(hits).toBeGreaterThan(15)
    },
  )

  scenario(
    {
      id: 'auth-cookie-bypass',
      area: 'security',
      title: 'authorization / cookie requests bypass unless keyed per user',
      did: '50 users (bearer tokens and session cookies) and anonymous clients, 400 requests interleaved, on a shared route and on a route keyed per user with key(req)',
      criterion:
        "shared route: every credentialed request BYPASS, anonymous ones cached; keyed route: each user HITs their own entry; no response ever holds another user's data",
    },
    async (ctx) => {
      const { fig } = ctx
      const app = await redisApp(ctx, 'auth', (app) => {
        const handler = async (req: FastifyRequest) => {
          fig.origin()
          return { user: userOf(req) || 'anonymous', secret: userOf(req) ? `secret-of-${userOf(req)}` : null }
        }
        app.get('/shared', { config: { cache: {} } }, handler)
        app.get('/mine', { config: { cache: { key: (req) => userOf(req) } } }, handler)
      })
      const users = Array.from({ length: 50 }, (_, i) => `u${i}`)
      let bypasses = 0
      let keyedHits = 0
      for (let round = 0; round < 4; round++) {
        for (const [i, user] of users.entries()) {
          const headers = i % 2 ? { authorization: `Bearer ${user}` } : { cookie: `sid=${user}; theme=dark` }
          const url = round % 2 ? '/shared' : '/mine'
          const s = await shoot(app, { url, headers }, fig)
          const body = JSON.parse(s.body) as { user: string }
          if (body.user !== user) fig.violation(`${user} got ${s.body} on ${url}`)
          if (url === '/shared' && s.xCache !== 'BYPASS') fig.violation(`${user} on /shared: ${s.xCache}`)
          if (url === '/shared') bypasses++
          if (url === '/mine' && s.xCache === 'HIT') keyedHits++
          const anon = await shoot(app, url, fig)
          if ((JSON.parse(anon.body) as { user: string }).user !== 'anonymous')
            fig.violation(`anonymous got ${anon.body}`)
        }
      }
      fig.set('credentialed /shared requests bypassed', bypasses)
      fig.set('keyed /mine HITs (own entry)', keyedHits)
      expect(fig.details).toEqual([])
      expect(keyedHits).toBe(50)
    },
  )

  // x-forwarded-proto is left out: see the report (request.protocol is not part of the key).
  const ATTACKS: Record<string, string> = {
    'x-forwarded-host': 'evil.example',
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-port': '6666',
    'x-forwarded-server': 'evil.example',
    'x-host': 'evil.example',
    'x-original-url': '/admin',
    'x-rewrite-url': '/admin',
    forwarded: 'host=evil.example;proto=http',
    'x-http-method-override': 'DELETE',
    'accept-language': 'xx-EVIL',
    'user-agent': 'evil-bot',
  }

  scenario(
    {
      id: 'unkeyed-header-poisoning',
      area: 'security',
      title: 'Unkeyed-header poisoning',
      did: `a route that builds links from what Fastify reads (request.host, request.url, request.ip); for each of ${Object.keys(ATTACKS).length} headers (x-forwarded-host, x-original-url, forwarded, ...) an attacker requests first with an evil value, then a victim without it; with trustProxy off and on`,
      criterion:
        'every victim gets exactly what it would get with no cache at all (compared with an uncached twin app)',
    },
    async (ctx) => {
      const { fig } = ctx
      for (const trustProxy of [false, true]) {
        const routes = (app: FastifyInstance, cached: boolean) =>
          app.get('/page/:id', { config: { cache: cached ? {} : false } }, async (req) => {
            if (cached) fig.origin()
            return { link: `//${req.host}${req.url}`, host: req.host, url: req.url }
          })
        const app = await redisApp(ctx, 'poison', (a) => routes(a, true), trustProxy)
        const twin = await buildApp(ctx, {
          keydb: false,
          fastify: { trustProxy },
          routes: (a) => routes(a, false),
        })
        for (const [i, [header, value]] of Object.entries(ATTACKS).entries()) {
          const url = `/page/${trustProxy}-${i}`
          await shoot(app, { url, headers: { [header]: value } }, fig)
          const victim = await shoot(app, url, fig)
          const expected = await twin.inject(url)
          if (victim.body !== expected.body)
            fig.violation(`trustProxy ${trustProxy}, ${header}: victim got ${victim.body}`)
        }
      }
      fig.set('headers tried (x2 trustProxy)', Object.keys(ATTACKS).length)
      expect(fig.details).toEqual([])
    },
  )

  scenario(
    {
      id: 'malformed-requests-not-stored',
      area: 'security',
      title: 'Error responses to malformed requests are never stored',
      did: 'route with a params/querystring schema; bad param, bad query, broken percent-encoding, a 150-char param (maxParamLength), a handler failing twice (500), a 404 for a missing row: each sent twice, then the valid requests',
      criterion:
        'no non-2xx response is ever written to the cache (set events); each malformed request is answered by Fastify/the handler both times; valid requests after them get fresh, correct data',
    },
    async (ctx) => {
      const { fig } = ctx
      let failures = 2
      const app = await redisApp(ctx, 'malformed', (app) =>
        app.get(
          '/items/:id',
          {
            config: { cache: {} },
            schema: {
              params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]+$' } } },
              querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1 } } },
            },
          },
          async (req, reply) => {
            fig.origin()
            const id = (req.params as { id: string }).id
            if (id === '13' && failures > 0) {
              failures--
              throw new Error('transient failure')
            }
            if (id === '404') return reply.code(404).send({ missing: id })
            return { id, limit: (req.query as { limit?: number }).limit ?? null }
          },
        ),
      )
      const stored: string[] = []
      app.cache.events.on('set', (e) => {
        if (e.written) stored.push(e.key)
      })
      const bad = [
        '/items/abc',
        '/items/1?limit=x',
        '/items/1?limit=0',
        '/items/%E0%A4%A',
        `/items/${'9'.repeat(150)}`,
        '/items/13',
        '/items/404',
      ]
      const statuses: number[] = []
      for (const url of bad)
        for (let i = 0; i < 2; i++) {
          const s = await shoot(app, url, fig)
          statuses.push(s.status)
          if (s.xCache === 'HIT') fig.violation(`${url}: HIT of an error response`)
        }
      await app.cache.drain()
      const storedAfterBad = stored.length
      const good = [await shoot(app, '/items/13', fig), await shoot(app, '/items/1?limit=5', fig)]
      for (const s of good) if (s.status !== 200) fig.error(`valid request: ${s.status}`)
      fig.set('statuses of the malformed requests', [...new Set(statuses)].join(', '))
      fig.set('error responses stored', storedAfterBad)
      if (storedAfterBad > 0) fig.violation(`${storedAfterBad} error responses stored`)
      expect(fig.details).toEqual([])
      expect(statuses.every((s) => s >= 400)).toBe(true)
      expect(JSON.parse(good[0]!.body)).toEqual({ id: '13', limit: null })
    },
  )

  scenario(
    {
      id: 'path-tricks',
      area: 'security',
      title: "Path tricks never serve one user's data to another",
      did: 'routes /me and /me/* (keyed per session), /static/* and /users/:id (public); user A requests 18 crafted paths (/me/x.css, /me;x.css, /me%2Fx.css, /static/..%2Fme, //me, /ME, ...) with their cookie, then user B and an anonymous client request the same paths',
      criterion:
        "no response to B or to the anonymous client contains A's secret; A's private responses are never served from a public entry",
    },
    async (ctx) => {
      const { fig } = ctx
      const app = await redisApp(ctx, 'paths', (app) => {
        const profile = async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
          fig.origin()
          const user = userOf(req)
          if (!user) return reply.code(401).send({ error: 'login' })
          return { user, secret: `secret-of-${user}` }
        }
        app.get('/me', { config: { cache: { key: userOf } } }, profile)
        app.get('/me/*', { config: { cache: { key: userOf } } }, profile)
        app.get('/static/*', { config: { cache: {} } }, async (req) => ({
          file: (req.params as Record<string, string>)['*'],
        }))
        app.get('/users/:id', { config: { cache: {} } }, async (req) => ({
          user: (req.params as { id: string }).id,
        }))
      })
      const paths = [
        '/me',
        '/me/x.css',
        '/me;x.css',
        '/me%2Fx.css',
        '/me/..%2Fx.css',
        '/me/%2e%2e/x.css',
        '/static/..%2Fme',
        '/static/%2e%2e/me',
        '/static/../me',
        '/static/x.css%00',
        '/ME',
        '/me/',
        '//me',
        '/me?x.css',
        '/me#x.css',
        '/users/1%2F..%2F..%2Fme',
        '/users/1;me',
        '/me/x.css?cb=1',
      ]
      for (const path of paths) await shoot(app, { url: path, headers: { cookie: 'sid=alice' } }, fig)
      await app.cache.drain()
      for (const path of paths) {
        for (const headers of [{ cookie: 'sid=bob' }, {}]) {
          const s = await shoot(app, { url: path, headers }, fig)
          if (s.body.includes('alice')) fig.violation(`${path} ${JSON.stringify(headers)}: ${s.body}`)
        }
      }
      fig.set('paths tried', paths.length)
      expect(fig.details).toEqual([])
    },
  )

  scenario(
    {
      id: 'vary-variants',
      area: 'security',
      title: 'vary variants bounded, vary: * never stored',
      did: 'route varying on accept-language: 200 distinct short values, then 200 distinct 300-character values; a route answering `vary: *`, requested 20 times',
      criterion:
        "values over 256 characters bypass (nothing stored, no key growth); `vary: *` responses are never stored; each short value gets its own entry, never another value's response",
    },
    async (ctx) => {
      const { fig } = ctx
      const app = await redisApp(ctx, 'vary', (app) => {
        app.get('/greet', { config: { cache: { vary: ['accept-language'] } } }, async (req) => {
          fig.origin()
          return { lang: req.headers['accept-language'] ?? null }
        })
        app.get('/star', { config: { cache: {} } }, async (_req, reply) => {
          fig.origin()
          reply.header('vary', '*')
          return { star: true }
        })
      })
      let stored = 0
      app.cache.events.on('set', (e) => {
        if (e.written) stored++
      })
      const check = async (lang: string) => {
        const s = await shoot(app, { url: '/greet', headers: { 'accept-language': lang } }, fig)
        if ((JSON.parse(s.body) as { lang: string }).lang !== lang)
          fig.violation(`${lang.slice(0, 20)} got ${s.body.slice(0, 40)}`)
        return s
      }
      for (let i = 0; i < 200; i++) await check(`l${i}`)
      await app.cache.drain()
      const afterShort = stored
      const long = []
      for (let i = 0; i < 200; i++) long.push(await check(`${i}-${'x'.repeat(300)}`))
      await app.cache.drain()
      const afterLong = stored - afterShort
      const star = []
      for (let i = 0; i < 20; i++) star.push(await shoot(app, '/star', fig))
      await app.cache.drain()
      const starStored = stored - afterShort - afterLong
      fig.set('entries for 200 short values', afterShort)
      fig.set('entries for 200 values over 256 chars', afterLong)
      fig.set('long values answered BYPASS', long.filter((s) => s.xCache === 'BYPASS').length)
      fig.set('vary: * entries stored', starStored)
      expect(fig.details).toEqual([])
      expect(afterLong).toBe(0)
      expect(starStored).toBe(0)
      expect(star.every((s) => s.xCache !== 'HIT')).toBe(true)
    },
  )
})
