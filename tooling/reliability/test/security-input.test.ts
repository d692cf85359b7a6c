import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect } from 'vitest'
import { buildApp, sharedRedisNamespace } from '../src/apps.js'
import { prng } from '../src/fuzz.js'
import { load, shoot } from '../src/load.js'
import { seriesCount } from '../src/metrics.js'
import { scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

const SEPARATORS = [
  '|',
  ':',
  '/',
  ',',
  ';',
  '=',
  '&',
  '?',
  '#',
  '1:',
  '|1:',
  '%7C',
  '%3A',
  '%2F',
  '%26',
  '%3D',
  '%25',
  '%20',
  '+',
]

/** Requests that a naive key (joined parts, unsorted query, truncation) would make collide. */
function craftedUrls(): Array<{ url: string; host?: string }> {
  const out: Array<{ url: string; host?: string }> = []
  for (const sep of SEPARATORS) {
    out.push({ url: `/k/x${sep}y/z` }, { url: `/k/x/${sep}y${sep}z` }, { url: `/k/x${sep}/y${sep}z` })
    out.push({ url: `/k/a/b?q=x${sep}y` }, { url: `/k/a/b?q=x&${sep}y=` }, { url: `/k/a/b?q${sep}=x` })
  }
  out.push(
    { url: '/k/1:x|1:y/z' },
    { url: '/k/1:x/1:y|z' },
    { url: '/k/a/b?x=1&x=2' },
    { url: '/k/a/b?x=2&x=1' },
    { url: '/k/a/b?x=1%262' },
    { url: '/k/a/b?x=1&2=' },
    { url: '/k/caf%C3%A9/n' },
    { url: '/k/cafe%CC%81/n' },
    { url: '/k/a/b?%E2%80%8B=1' },
    { url: '/k/a/b?=1' },
    { url: '/k/a/b?a=1&b=2' },
    { url: '/k/a/b?ab=12' },
  )
  for (let i = 0; i < 10; i++) {
    const long = 'L'.repeat(190)
    out.push({ url: `/k/${long}${i}/x` }, { url: `/k/${long}/${i}x` }, { url: `/k/a/b?q=${long}${i}` })
  }
  for (const host of ['a.example', 'b.example', 'a.example:80', 'A.EXAMPLE', 'a.example.'])
    out.push({ url: '/k/h/h', host })
  return out
}

describe('security: user input and keys, tags, metrics', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'key-collisions',
      area: 'security',
      title: 'User input cannot make two different requests share a key',
      did: `${craftedUrls().length} crafted requests (separators and length prefixes in params and query, encoded separators, repeated and reordered names, NFC vs NFD, keys past 200 chars that get hashed, Host variants) to a route echoing its input, filled in random order, then read again`,
      criterion:
        "every response equals what an uncached twin answers to that same request: no request is ever served another request's entry",
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, 'keys')
      const routes = (app: FastifyInstance) =>
        app.get('/k/:a/:b', { config: { cache: {} } }, async (req) => {
          fig.origin()
          return { params: req.params, query: req.query, host: req.host }
        })
      // Params up to 500 characters (Fastify's default maxParamLength of 100 would answer 414).
      const fastify = { maxParamLength: 500 }
      const app = await buildApp(ctx, { keydb: { url }, cache: { keyPrefix: namespace }, fastify, routes })
      const twin = await buildApp(ctx, {
        keydb: false,
        fastify,
        routes: (a) =>
          a.get('/k/:a/:b', async (req) => ({ params: req.params, query: req.query, host: req.host })),
      })
      const requests = craftedUrls()
      const random = prng(5)
      const order = requests.map((_, i) => i).sort(() => random() - 0.5)
      const keys = new Set<string>()
      app.cache.events.on('miss', (e) => void keys.add(e.key))
      for (const pass of ['fill', 'read']) {
        for (const i of order) {
          const r = requests[i]!
          const options = { url: r.url, ...(r.host && { headers: { host: r.host } }) }
          const got = await shoot(app, options, fig)
          const want = await twin.inject(options)
          if (got.status !== want.statusCode || got.body !== want.body)
            fig.violation(
              `${pass} ${r.host ?? ''}${r.url}: got ${got.body.slice(0, 80)}, want ${want.body.slice(0, 80)}`,
            )
        }
        await app.cache.drain()
      }
      const answers = await Promise.all(
        requests.map((r) => twin.inject({ url: r.url, ...(r.host && { headers: { host: r.host } }) })),
      )
      const distinct = new Set(answers.filter((a) => a.statusCode === 200).map((a) => a.body))
      fig.set('distinct 200 answers / distinct keys', `${distinct.size} / ${keys.size}`)
      fig.set('keys over 200 chars stored hashed', [...keys].filter((k) => k.startsWith('#')).length)
      expect(fig.details).toEqual([])
      expect(keys.size).toBeGreaterThanOrEqual(distinct.size)
    },
  )

  scenario(
    {
      id: 'tag-injection',
      area: 'security',
      title: 'User input cannot make one tag invalidate another',
      did: 'route tagged item:<id> with the id taken from the URL; 13 crafted ids (spaces, newline, braces, *, a tag inside the id, 200 chars, ...); then invalidateTags([item:1]) and an invalidation with a crafted list',
      criterion:
        'invalid tags are never stored (the request still answers 200); invalidating item:1 misses only /t/1; a crafted tag list rejects and invalidates nothing',
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, 'taginj')
      const app = await buildApp(ctx, {
        keydb: { url },
        tags: true,
        cache: { keyPrefix: namespace },
        fastify: { maxParamLength: 500 },
        routes: (app) =>
          app.get(
            '/t/:id',
            { config: { cache: { tags: (req) => [`item:${(req.params as { id: string }).id}`] } } },
            async (req) => {
              fig.origin()
              return { id: (req.params as { id: string }).id }
            },
          ),
      })
      const valid = ['1', '2', '10', '1:x', 'item:1', '1.0', '1%2F2']
      const invalid = ['1%20item:2', '1%0Aitem:2', 'x%7By%7D', '*', 'a'.repeat(200), '1%09item:2']
      const all = [...valid, ...invalid]
      for (const id of all) await shoot(app, `/t/${id}`, fig)
      await app.cache.drain()
      const before = await load(all.length, 1, (i) => shoot(app, `/t/${all[i]}`, fig))
      before.forEach((s, i) => {
        if (s.status !== 200) fig.error(`/t/${all[i]}: ${s.status}`)
        const expectHit = i < valid.length
        if ((s.xCache === 'HIT') !== expectHit)
          fig.violation(`/t/${all[i]!.slice(0, 20)}: ${s.xCache} before invalidation`)
      })
      await app.cache.invalidateTags(['item:1'])
      let rejected = false
      try {
        await app.cache.invalidateTags(['item:2 item:10', 'item:1:x\nitem:2'])
      } catch (error) {
        rejected = (error as { code?: string }).code === 'FST_CACHE_TAGS_INVALID_TAG'
      }
      const after = await load(valid.length, 1, (i) => shoot(app, `/t/${valid[i]}`, fig))
      after.forEach((s, i) => {
        const shouldMiss = valid[i] === '1'
        if ((s.xCache !== 'HIT') !== shouldMiss)
          fig.violation(`/t/${valid[i]} after invalidating item:1: ${s.xCache}`)
      })
      fig.set('crafted ids tried (valid / invalid tags)', `${valid.length} / ${invalid.length}`)
      fig.set('crafted invalidation rejected', rejected)
      expect(fig.details).toEqual([])
      expect(rejected).toBe(true)
    },
  )

  scenario(
    {
      id: 'metrics-cardinality',
      area: 'security',
      title: 'Metrics series stay flat under 10k random paths',
      did: 'app with fastify-cache-metrics; 1,000 random requests (random ids, query strings, wildcard paths, unknown paths, POSTs, credentialed requests), series counted; then 9,000 more',
      criterion:
        'the number of series after 10,000 requests equals the number after the first 1,000: no label takes a value from the URL',
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const app = await buildApp(ctx, {
        keydb: false,
        metrics: true,
        routes: (app) => {
          app.get('/items/:id', { config: { cache: {} } }, async (req) => req.params)
          app.get('/search', { config: { cache: {} } }, async (req) => req.query)
          app.get('/files/*', { config: { cache: {} } }, async (req) => req.params)
          app.post('/items/:id', async () => ({ ok: true }))
        },
      })
      const random = prng(9)
      const word = () => Math.floor(random() * 1e9).toString(36)
      const send = (i: number) => {
        const r = random()
        if (r < 0.3) return shoot(app, `/items/${word()}`, fig)
        if (r < 0.5) return shoot(app, `/search?q=${word()}&${word()}=${word()}`, fig)
        if (r < 0.65) return shoot(app, `/files/${word()}/${word()}.css`, fig)
        if (r < 0.8) return shoot(app, `/${word()}/${word()}?x=${i}`, fig)
        if (r < 0.9) return shoot(app, { method: 'POST', url: `/items/${word()}` }, fig)
        return shoot(app, { url: `/items/${word()}`, headers: { authorization: `Bearer ${word()}` } }, fig)
      }
      await load(1_000, 20, send)
      const registry = app.cacheMetrics.registry
      const early = await seriesCount(registry)
      await load(9_000, 20, (i) => send(1_000 + i))
      const late = await seriesCount(registry)
      const exposition = (await app.inject('/metrics')).body
      fig.set('series after 1k / 10k requests', `${early} / ${late}`)
      fig.set('exposition size (bytes)', exposition.length)
      expect(late).toBe(early)
    },
  )
})
