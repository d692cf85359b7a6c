import { randomBytes } from 'node:crypto'
import { encodeEntry } from '@fastkey/fastify-cache/extension'
import { inspectEntry } from '@fastkey/fastify-cache/testing'
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect } from 'vitest'
import { adminClient, buildApp, failFastClient, keydbEngine, sharedRedisNamespace } from '../src/apps.js'
import { SkewedClocks } from '../src/clock.js'
import { burst, expectOk, httpGet, load, shoot, sleep } from '../src/load.js'
import { Origin } from '../src/origin.js'
import { scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

/** Foreign or corrupt values written under our entry, lock and generation keys, by name. */
function corruptions(entry: Buffer) {
  const header = encodeEntry({
    status: 200,
    contentType: 'application/json',
    etag: '"x"',
    tags: '',
    freshMs: 60_000,
    staleMs: 0,
    graceMs: 0,
    loadMs: 0,
    headers: {},
    negative: false,
    body: Buffer.from('{"forged":true}'),
  })
  const hugeLength = Buffer.from(header)
  // Entry format 2: magic, format, flags, status (5 bytes), then four f64 windows: the content-type
  // length sits at byte 37. Make it point far past the end.
  hugeLength.writeUInt16LE(0xffff, 37)
  const nanWindow = Buffer.from(header)
  nanWindow.writeDoubleLE(Number.NaN, 5)
  return [
    { name: 'random bytes', write: { kind: 'string', value: randomBytes(64) } },
    { name: 'truncated entry', write: { kind: 'string', value: entry.subarray(0, 12) } },
    { name: 'length past the end', write: { kind: 'string', value: hugeLength } },
    { name: 'NaN fresh window', write: { kind: 'string', value: nanWindow } },
    { name: 'valid entry without TTL', write: { kind: 'string', value: header, noTtl: true } },
    { name: "another app's JSON", write: { kind: 'string', value: Buffer.from('{"id":"x","admin":true}') } },
    { name: 'empty string', write: { kind: 'string', value: Buffer.alloc(0) } },
    {
      name: 'lock key: value without TTL',
      write: { kind: 'string', value: Buffer.from('stuck'), at: 'l', noTtl: true },
    },
    { name: 'generation key: a list', write: { kind: 'list', value: Buffer.from('g'), at: 'g' } },
  ] as const
}

describe('values', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'corrupt-foreign-values',
      area: 'values',
      title: 'Corrupt or foreign values under our prefix',
      did: "20 keys filled; 9 of them overwritten: random bytes, truncated entry, lengths past the end, NaN window, a well-formed entry without TTL, another app's JSON, empty string at the entry key, a TTL-less value at the lock key, a list at the generation key; all 20 read in one burst (same read batch), then one by one, then again",
      criterion:
        "never a crash, never a non-2xx, never a byte of the foreign value served: every response is the origin's; unreadable values are counted (decode events) and do not disturb the other keys of their read batch; each corrupt entry serves from the cache again after one refill (the stuck lock and the broken generation: origin every time, bounded by lock.waitMs)",
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, 'corrupt')
      const admin = await adminClient(ctx, url)
      const origin = new Origin(fig, 2)
      const app = await buildApp(ctx, {
        keydb: { url },
        cache: { keyPrefix: namespace, defaults: { lock: { ttlMs: 5_000, waitMs: 300 } } },
        routes: (app) => origin.route(app),
      })
      const keys: string[] = []
      const off = app.cache.events.on('miss', (e) => void keys.push(e.key))
      const good = await load(20, 1, (i) => shoot(app, `/items/${i}`, fig))
      off()
      expectOk(fig, good, 'fill')
      await app.cache.drain()
      const sample = (await admin.getBuffer(`${namespace}:e:{${keys[0]}}`))!
      const variants = corruptions(sample)
      for (const [i, v] of variants.entries()) {
        const w = v.write as { kind: string; value: Buffer; noTtl?: boolean; at?: string }
        const key = `${namespace}:${w.at ?? 'e'}:{${keys[i]}}`
        await admin.del(key, `${namespace}:e:{${keys[i]}}`) // lock / generation variants: the entry is gone too
        if (w.kind === 'list') await admin.rpush(key, w.value)
        else if (w.kind === 'hash') await admin.hset(key, 'f', w.value)
        else await admin.set(key, w.value)
        if (w.at === 'e' || w.at === undefined) if (!w.noTtl) await admin.pexpire(key, 60_000)
      }
      let decodeErrors = 0
      const readErrors: string[] = []
      app.cache.events.on('error', (e) => {
        if (e.operation === 'decode') decodeErrors++
        else readErrors.push(`${e.operation}: ${(e.error as Error).message.slice(0, 60)}`)
      })
      const check = (shots: Awaited<ReturnType<typeof shoot>>[], label: string) => {
        expectOk(fig, shots, label)
        shots.forEach((s, i) => {
          if (s.body !== good[i]!.body) fig.violation(`${label} /items/${i}: served ${s.body.slice(0, 60)}`)
        })
      }
      const together = await burst(20, (i) => shoot(app, `/items/${i}`, fig))
      check(together, 'burst')
      const cleanHitsInBurst = together.slice(variants.length).filter((s) => s.xCache === 'HIT').length
      await app.cache.drain()
      await sleep(350) // breaker cooldown, if it opened
      const oneByOne = await load(20, 1, (i) => shoot(app, `/items/${i}`, fig))
      check(oneByOne, 'one by one')
      await app.cache.drain()
      const again = await load(20, 1, (i) => shoot(app, `/items/${i}`, fig))
      check(again, 'after refill')
      // Every corrupt entry and the stuck lock's key (loaded without the lock after waitMs) are cached
      // again; a generation the engine cannot read is never trusted: that key stays on the origin.
      const refilled = again.slice(0, variants.length - 1).filter((s) => s.xCache === 'HIT').length
      const brokenGeneration = again[variants.length - 1]!.xCache
      fig.set('decode errors counted', decodeErrors)
      fig.set('untouched keys served as HIT in the same burst', `${cleanHitsInBurst}/${20 - variants.length}`)
      fig.set('store errors (WRONGTYPE etc.)', readErrors.length)
      fig.set('corrupt keys serving from cache after one refill', `${refilled}/${variants.length - 1}`)
      fig.set('key with a broken generation', `${brokenGeneration} (origin every time)`)
      fig.set('slowest request ms (stuck lock waits lock.waitMs 300)', Math.round(fig.maxLatencyMs))

      expect(fig.details).toEqual([])
      expect(decodeErrors).toBeGreaterThan(0)
      expect(refilled).toBe(variants.length - 1)
      expect(brokenGeneration).toBe('MISS')
      expect(cleanHitsInBurst).toBe(20 - variants.length)
      expect(fig.maxLatencyMs).toBeGreaterThanOrEqual(300) // the stuck lock was waited for...
      expect(fig.maxLatencyMs).toBeLessThan(300 + 150 + 150) // ...up to lock.waitMs, no longer
    },
  )

  scenario(
    {
      id: 'unserializable-values',
      area: 'values',
      title: 'Values that cannot be serialized',
      did: 'getOrSet() of a BigInt and of a circular object (KeyDB engine); a route returning a circular object; a route whose tags() throws',
      criterion:
        'the service caller gets its value, nothing is stored (skip/serialize counted), the loader runs again next time; the route answers what Fastify answers without a cache (500), nothing stored; no crash, no unhandled rejection',
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, 'unser')
      const engine = keydbEngine(ctx, await failFastClient(ctx, url), namespace)
      await engine.ready()
      const skips: string[] = []
      engine.events.on('skip', (e) => void skips.push(e.reason))
      const circular: Record<string, unknown> = { a: 1 }
      circular.self = circular
      for (const [key, value] of [
        ['bigint', 10n ** 30n],
        ['circular', circular],
      ] as const) {
        for (let round = 0; round < 2; round++) {
          fig.requests++
          const got = await engine.getOrSet(key, () => {
            fig.origin()
            return value
          })
          if (got !== value) fig.error(`${key}: caller got ${String(got)}`)
        }
        if ((await engine.get(key)) !== undefined) fig.violation(`${key} was stored`)
      }
      const app = await buildApp(ctx, {
        keydb: { url },
        cache: { keyPrefix: `${namespace}-r` },
        // Route tags need a provider (a route with `tags` and none is a config error).
        tags: true,
        routes: (app) => {
          app.get('/circular', { config: { cache: {} } }, async () => {
            fig.origin()
            return circular
          })
          app.get(
            '/bad-tags',
            {
              config: {
                cache: {
                  tags: () => {
                    throw new Error('tags failed')
                  },
                },
              },
            },
            async () => {
              fig.origin()
              return { ok: true }
            },
          )
        },
      })
      const routeShots = [
        await shoot(app, '/circular', fig),
        await shoot(app, '/circular', fig),
        await shoot(app, '/bad-tags', fig),
        await shoot(app, '/bad-tags', fig),
      ]
      fig.set('service skips', skips.join(', '))
      fig.set('route statuses', routeShots.map((s) => `${s.status} ${s.xCache}`).join(', '))

      expect(fig.details).toEqual([])
      expect(skips).toEqual(['serialize', 'serialize', 'serialize', 'serialize'])
      expect(routeShots.map((s) => s.status)).toEqual([500, 500, 200, 200])
      expect(routeShots.every((s) => s.xCache !== 'HIT')).toBe(true)
      expect(fig.originCalls).toBe(8) // every call reached its loader: nothing was cached
    },
  )

  scenario(
    {
      id: 'oversized-response',
      area: 'values',
      title: 'A 5 MiB response over maxValueBytes',
      did: 'route returning 5 MiB of random bytes (maxValueBytes default 1 MiB), requested 3 times over real HTTP (`inject()` itself blocks the loop ~200 ms on 5 MiB, with or without the cache)',
      criterion:
        'served whole and byte-exact every time (200, MISS); never stored (3 origin calls, 3 too-large skips, no entry in KeyDB)',
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, 'big')
      const admin = await adminClient(ctx, url)
      const body = randomBytes(5 * 1024 * 1024)
      const app = await buildApp(ctx, {
        keydb: { url },
        cache: { keyPrefix: namespace },
        routes: (app) =>
          app.get('/big', { config: { cache: {} } }, async (_req, reply) => {
            fig.origin()
            reply.type('application/octet-stream')
            return body
          }),
      })
      const skips: Array<number | undefined> = []
      app.cache.events.on('skip', (e) => {
        if (e.reason === 'too-large') skips.push(e.bytes)
      })
      await app.listen({ port: 0, host: '127.0.0.1' })
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
      for (let i = 0; i < 3; i++) {
        const r = await httpGet(`${base}/big`, fig, 10_000, true)
        if (r.status !== 200 || !r.raw!.equals(body))
          fig.violation(`response ${i}: ${r.status}, ${r.raw!.length} bytes`)
        if (r.xCache !== 'MISS') fig.error(`response ${i}: x-cache ${r.xCache}`)
      }
      const stored = (await admin.keys(`${namespace}:e:*`)).length
      fig.set('skip events (bytes)', skips.join(', '))
      fig.set('entries in KeyDB', stored)
      expect(fig.details).toEqual([])
      expect(fig.originCalls).toBe(3)
      expect(skips).toEqual([body.length, body.length, body.length])
      expect(stored).toBe(0)
    },
  )

  scenario(
    {
      id: 'skewed-clocks',
      area: 'values',
      title: 'App instances with skewed clocks',
      did: '3 instances on one KeyDB whose Date.now() differ: exact, +1 h, -1 h (per-instance clocks through async context); an entry (ttl 600 ms, swr 600 ms) filled by the exact one; at 7 moments across its life all three classify it, and read it through the route',
      criterion:
        "at every moment the 3 instances agree (fresh / stale / expired, and age within 20 ms), and the classification matches the entry's real age: no decision depends on an app clock",
    },
    async (ctx) => {
      const { fig } = ctx
      const clocks = new SkewedClocks()
      clocks.install()
      ctx.defer(() => clocks.restore())
      const skews = [0, 3_600_000, -3_600_000]
      const { url, namespace } = await sharedRedisNamespace(ctx, 'skew')
      const origin = new Origin(fig, 1)
      const apps: FastifyInstance[] = []
      for (const skew of skews)
        apps.push(
          await clocks.run(skew, () =>
            buildApp(ctx, {
              keydb: { url },
              cache: { keyPrefix: namespace },
              routes: (app) => origin.route(app, { ttlMs: 600, staleWhileRevalidateMs: 600 }),
            }),
          ),
        )
      let key: string | undefined
      apps[0]!.cache.events.on('miss', (e) => {
        key ??= e.key
      })
      const filled = await shoot(apps[0]!, '/items/1', fig)
      await apps[0]!.cache.drain()
      const t0 = performance.now() - filled.latencyMs / 2
      const moments = [
        { at: 150, expect: 'fresh' },
        { at: 300, expect: 'fresh' },
        { at: 450, expect: 'fresh' },
        { at: 750, expect: 'stale' },
        { at: 900, expect: 'stale' },
        { at: 1_050, expect: 'stale' },
        { at: 1_350, expect: 'expired' },
      ]
      let disagreements = 0
      let wrong = 0
      for (const moment of moments) {
        await sleep(Math.max(0, t0 + moment.at - performance.now()))
        const views = await Promise.all(
          apps.map((app, i) =>
            clocks.run(skews[i]!, async () => {
              const found = await inspectEntry(app.cache, key!)
              return { freshness: found ? found.freshness : 'expired', ageMs: found?.ageMs ?? -1 }
            }),
          ),
        )
        const ages = views.map((v) => v.ageMs)
        if (new Set(views.map((v) => v.freshness)).size !== 1 || Math.max(...ages) - Math.min(...ages) > 20) {
          disagreements++
          fig.violation(`at ${moment.at} ms: ${JSON.stringify(views)}`)
        }
        if (views[0]!.freshness !== moment.expect) wrong++
      }
      // Through the routes too, while fresh: a fresh fill, then a HIT on every instance with the same age.
      await shoot(apps[0]!, '/items/2', fig)
      await apps[0]!.cache.drain()
      const reads = await Promise.all(
        apps.map((app, i) => clocks.run(skews[i]!, () => shoot(app, '/items/2', fig))),
      )
      fig.set('moments checked', moments.length)
      fig.set('disagreements', disagreements)
      fig.set('route reads (x-cache/age)', reads.map((r) => `${r.xCache}/${r.headers.age}`).join(', '))

      expect(fig.details).toEqual([])
      expect(wrong).toBe(0)
      expect(reads.every((r) => r.xCache === 'HIT')).toBe(true)
      expect(new Set(reads.map((r) => r.headers.age)).size).toBe(1)
    },
  )
})
