// Issue 13, "cost and resource edges": each scenario measures what an edge costs and states the bound.
import type { TagProviderOptions } from '@fastkey/cache-tags'
import type { FastifyInstance } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { beforeAll, describe, expect } from 'vitest'
import { buildApp } from '../src/apps.js'
import type { Figures } from '../src/figures.js'
import { expectOk, load, type Shot, shoot, sleep } from '../src/load.js'
import { type ScenarioContext, scenario } from '../src/scenario.js'
import { CLUSTER_SKIP, countKeys, sharedTarget, type TargetKind } from '../src/targets.js'
import { TcpProxy } from '../src/tcp-proxy.js'
import { warmUp } from '../src/warm-up.js'

const WRITES_PER_SECOND = 10
const WRITE_RUN_MS = 4_000
const LIST_READERS = 5
const LIST_PAGES = 4
const LIST_ORIGIN_MS = 2
/**
 * Origin calls a list page may cost per invalidation of its tag: 1 (the reload), plus a share for
 * loads that really overlapped an invalidation. Independent of how fast the readers go, unlike a hit
 * ratio (reported too).
 */
const MAX_LOADS_PER_PAGE_PER_INVALIDATION = 1.5

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

/**
 * Lists whose tags come from the payload (`products`, carried by every list, and one per row), read
 * by LIST_READERS clients while a writer bumps the data and invalidates `products` 10 times a second.
 */
async function listsUnderWrites(
  ctx: ScenarioContext,
  kind: TargetKind,
  tags: TagProviderOptions | true,
  fig: Figures,
): Promise<{
  hitRatio: number
  servedWithoutOrigin: number
  loadsPerInvalidation: number
  p99: number
  stale: number
  shots: Shot[]
}> {
  const target = await sharedTarget(ctx, kind, 'skew')
  const db = { version: 1 }
  let committed = 1
  let originCalls = 0
  const app: FastifyInstance = await buildApp(ctx, {
    keydb: target.keydb,
    cache: { keyPrefix: target.namespace },
    tags,
    routes: (app) =>
      app.get(
        '/products',
        {
          config: {
            cache: {
              ttlMs: 60_000,
              tags: (_req, payload) => [
                'products',
                ...(payload as { rows: Array<{ id: number }> }).rows.map((r) => `product:${r.id}`),
              ],
            },
          },
        },
        async (req) => {
          fig.origin()
          originCalls++
          const page = Number((req.query as { page?: string }).page ?? 0)
          const version = db.version // the read
          await sleep(LIST_ORIGIN_MS)
          return { version, rows: [0, 1, 2].map((i) => ({ id: page * 3 + i })) }
        },
      ),
  })
  for (let page = 0; page < LIST_PAGES; page++) await shoot(app, `/products?page=${page}`)
  await app.cache.drain()
  originCalls = 0
  let running = true
  const shots: Shot[] = []
  let stale = 0
  const readers = Array.from({ length: LIST_READERS }, async (_, r) => {
    let i = 0
    while (running) {
      const floor = committed
      const shot = await shoot(app, `/products?page=${(r + i++) % LIST_PAGES}`, fig)
      shots.push(shot)
      if (shot.status !== 200) fig.error(`status ${shot.status}`)
      else if ((JSON.parse(shot.body) as { version: number }).version < floor) {
        stale++
        fig.violation(`served an old list (${shot.xCache}) after its invalidation resolved`)
      }
      await sleep(1)
    }
  })
  const writes = Math.round((WRITE_RUN_MS / 1_000) * WRITES_PER_SECOND)
  for (let w = 0; w < writes; w++) {
    await sleep(1_000 / WRITES_PER_SECOND)
    db.version++
    await app.cache.invalidateTags(['products'])
    committed = db.version
  }
  running = false
  await Promise.all(readers)
  await app.cache.drain()
  const hits = shots.filter((s) => s.xCache === 'HIT').length
  return {
    // x-cache HIT includes requests that joined this process's load of the key (single-flight).
    hitRatio: hits / shots.length,
    servedWithoutOrigin: 1 - originCalls / shots.length,
    loadsPerInvalidation: originCalls / (LIST_PAGES * writes),
    p99: percentile(
      shots.map((s) => s.latencyMs),
      99,
    ),
    stale,
    shots,
  }
}

function clockSkewScenario(kind: TargetKind): void {
  scenario(
    {
      id: `tag-clock-skew-hit-ratio-${kind}`,
      area: 'races',
      title: `List hit ratio at ${WRITES_PER_SECOND} invalidations/s (${kind === 'cluster' ? 'cluster without replicas' : 'one master'})`,
      did: `${LIST_PAGES} list pages tagged from their payload (products + product:<id>), origin ${LIST_ORIGIN_MS} ms, ${LIST_READERS} readers for ${WRITE_RUN_MS / 1_000} s while a writer bumps the data and invalidates products ${WRITES_PER_SECOND} times a second; run with cache-tags' default options, then with clockSkewMs: 0`,
      criterion: `with the default options a list page costs at most ${MAX_LOADS_PER_PAGE_PER_INVALIDATION} origin calls per invalidation of its tag on masters without replicas (where the clock comparison is exact with 0), as with clockSkewMs: 0 (hit ratios reported); no read after an invalidation resolved returns the old list`,
      timeoutMs: 60_000,
      ...(kind === 'cluster' && { skip: CLUSTER_SKIP }),
    },
    async (ctx) => {
      const { fig } = ctx
      const byDefault = await listsUnderWrites(ctx, kind, true, fig)
      const exact = await listsUnderWrites(ctx, kind, { clockSkewMs: 0 }, fig)
      fig.set(
        'reads served without an origin call, default options / clockSkewMs: 0',
        `${byDefault.servedWithoutOrigin.toFixed(2)} / ${exact.servedWithoutOrigin.toFixed(2)}`,
      )
      fig.set(
        'origin calls per page per invalidation, default options / clockSkewMs: 0',
        `${byDefault.loadsPerInvalidation.toFixed(2)} / ${exact.loadsPerInvalidation.toFixed(2)}`,
      )
      fig.set(
        'x-cache HIT ratio (joined loads included), default options / clockSkewMs: 0',
        `${byDefault.hitRatio.toFixed(2)} / ${exact.hitRatio.toFixed(2)}`,
      )
      fig.set(
        'p99 ms, default options / clockSkewMs: 0',
        `${byDefault.p99.toFixed(1)} / ${exact.p99.toFixed(1)}`,
      )
      fig.set('reads, default options / clockSkewMs: 0', `${byDefault.shots.length} / ${exact.shots.length}`)

      expect(fig.errors).toBe(0)
      expect(byDefault.stale + exact.stale).toBe(0)
      expect(exact.loadsPerInvalidation).toBeLessThanOrEqual(MAX_LOADS_PER_PAGE_PER_INVALIDATION)
      expect(byDefault.loadsPerInvalidation).toBeLessThanOrEqual(MAX_LOADS_PER_PAGE_PER_INVALIDATION)
    },
  )
}

const BAD_REQUESTS = 2_000
const STORED_QUERIES = 10_000
const STORED_TTL_MS = 60_000
/** The default fill lock ttl: the longest a fill's generation has to outlive its own load. */
const LOCK_TTL_MS = 10_000
const TTL_SAMPLE = 200

/** PTTL of `key` in ms (-2 missing, -1 no expiry). */
function pttl(admin: { pttl(key: string): Promise<number> }, key: string): Promise<number> {
  return admin.pttl(key)
}

/** Up to `max` keys matching `pattern` on every master. */
async function sampleKeys(admin: Redis | Cluster, pattern: string, max: number): Promise<string[]> {
  const nodes = (admin as Cluster).isCluster ? (admin as Cluster).nodes('master') : [admin as Redis]
  const out: string[] = []
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      out.push(...keys)
    } while (cursor !== '0' && out.length < max)
  }
  return out.slice(0, max)
}

function leftoverKeysScenario(kind: TargetKind): void {
  scenario(
    {
      id: `keys-for-unstored-responses-${kind}`,
      area: 'server',
      title: `Keys left by responses that are not stored, and by generations (${kind === 'cluster' ? 'cluster' : 'one server'})`,
      did: `a cached route with a querystring schema: ${BAD_REQUESTS.toLocaleString('en')} requests with distinct invalid queries (answered 400 by validation, never stored); then ${STORED_QUERIES.toLocaleString('en')} distinct valid queries on a route with ttlMs ${STORED_TTL_MS} (stored); keys counted by pattern under the prefix, and the TTLs of ${TTL_SAMPLE} generation keys compared with their entries'`,
      criterion: `a request whose response is not stored leaves nothing behind (0 generation keys, locks or entries after the ${BAD_REQUESTS.toLocaleString('en')} 400s); a generation key never outlives the entry it fences by more than the fill lock ttl (${LOCK_TTL_MS / 1_000} s)`,
      timeoutMs: 120_000,
      ...(kind === 'cluster' && { skip: CLUSTER_SKIP }),
    },
    async (ctx) => {
      const { fig } = ctx
      const target = await sharedTarget(ctx, kind, 'leftkeys')
      const ns = target.namespace
      const app = await buildApp(ctx, {
        keydb: target.keydb,
        cache: { keyPrefix: ns },
        routes: (app) => {
          app.get(
            '/search',
            {
              schema: {
                querystring: {
                  type: 'object',
                  required: ['q'],
                  properties: { q: { type: 'string', minLength: 3 } },
                },
              },
              config: { cache: { ttlMs: STORED_TTL_MS } },
            },
            async (req) => {
              fig.origin()
              return { q: (req.query as { q: string }).q }
            },
          )
        },
      })
      const bad = await load(BAD_REQUESTS, 10, (i) => shoot(app, `/search?n=${i}`, fig))
      await app.cache.drain()
      const badStatuses = new Set(bad.map((s) => s.status))
      const afterBad = {
        generations: await countKeys(target.admin, `${ns}:g:*`),
        locks: await countKeys(target.admin, `${ns}:l:*`),
        entries: await countKeys(target.admin, `${ns}:e:*`),
      }
      fig.set(
        `after ${BAD_REQUESTS} 400s: generation keys / locks / entries`,
        `${afterBad.generations} / ${afterBad.locks} / ${afterBad.entries}`,
      )
      fig.set('statuses of the invalid requests', [...badStatuses].join(', '))

      const good = await load(STORED_QUERIES, 10, (i) => shoot(app, `/search?q=query-${i}`, fig))
      await app.cache.drain()
      if (good.some((s) => s.status !== 200)) fig.error('a valid query was not answered 200')
      const entries = await countKeys(target.admin, `${ns}:e:*`)
      const generations = await countKeys(target.admin, `${ns}:g:*`)
      let longestOutliveMs = Number.NEGATIVE_INFINITY
      for (const generationKey of await sampleKeys(target.admin, `${ns}:g:*`, TTL_SAMPLE)) {
        const entryKey = generationKey.replace(`${ns}:g:`, `${ns}:e:`)
        const [g, e] = await Promise.all([pttl(target.admin, generationKey), pttl(target.admin, entryKey)])
        if (g === -2) continue // expired meanwhile
        // A generation without expiry (-1) outlives everything; a missing entry (-2) fences nothing.
        const outlives = g === -1 ? Number.POSITIVE_INFINITY : g - Math.max(0, e)
        longestOutliveMs = Math.max(longestOutliveMs, outlives)
      }
      fig.set(
        `after ${STORED_QUERIES} stored responses: entries / generation keys`,
        `${entries} / ${generations}`,
      )
      fig.set('longest a sampled generation outlives its entry (s)', Math.round(longestOutliveMs / 1_000))

      expect(badStatuses).toEqual(new Set([400]))
      expect(fig.errors).toBe(0)
      expect(afterBad).toEqual({ generations: 0, locks: 0, entries: 0 })
      expect(longestOutliveMs).toBeLessThanOrEqual(LOCK_TTL_MS)
    },
  )
}

const GRAY_DELAY_MS = 150
const GRAY_DEADLINE_MS = 200
const GRAY_ORIGIN_MS = 1
const GRAY_KEYS = 10
const GRAY_REQUESTS = 60
/** Margin over one deadline + the origin for this process's own scheduling on a shared machine. */
const GRAY_MARGIN_MS = 60
/** Once routed around, a request should cost about the origin: this much at the median. */
const ROUTED_AROUND_MEDIAN_MS = 25

function grayFailureScenario(): void {
  scenario(
    {
      id: 'keydb-gray-failure',
      area: 'server',
      title: 'Gray failure: KeyDB answers every command in 150 ms',
      did: `throwaway server behind a TCP proxy that delays every reply by ${GRAY_DELAY_MS} ms (below the ${GRAY_DEADLINE_MS} ms commandTimeoutMs); ${GRAY_KEYS} untagged and ${GRAY_KEYS} tagged (payload tags) entries filled before the delay; then ${GRAY_REQUESTS} requests (3 concurrent) on the cached keys, and ${GRAY_REQUESTS} on cold keys; origin ${GRAY_ORIGIN_MS} ms`,
      criterion: `no request waits on KeyDB longer than one deadline in total (every request within ${GRAY_DEADLINE_MS} + origin + ${GRAY_MARGIN_MS} ms); a slow KeyDB is routed around: past the first 10 requests of each phase the median request takes at most ${ROUTED_AROUND_MEDIAN_MS} ms (the origin alone takes ${GRAY_ORIGIN_MS} ms); 0 non-2xx`,
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const server = await ctx.redis()
      const proxy = await TcpProxy.start(ctx, server.port)
      const circuit: string[] = []
      const app = await buildApp(ctx, {
        keydb: { url: `redis://127.0.0.1:${proxy.port}` },
        cache: { commandTimeoutMs: GRAY_DEADLINE_MS },
        tags: true,
        routes: (app) => {
          const origin = async (req: { params: unknown }) => {
            fig.origin()
            await sleep(GRAY_ORIGIN_MS)
            return { id: (req.params as { id: string }).id }
          }
          app.get('/plain/:id', { config: { cache: {} } }, origin)
          app.get(
            '/tagged/:id',
            {
              config: {
                cache: { tags: (_req, payload) => [`item:${(payload as { id: string }).id}`, 'items'] },
              },
            },
            origin,
          )
        },
      })
      app.cache.events.on('circuit', (e) => void circuit.push(e.state))
      for (let i = 0; i < GRAY_KEYS; i++) {
        await shoot(app, `/plain/${i}`)
        await shoot(app, `/tagged/${i}`)
      }
      await app.cache.drain()
      proxy.replyDelayMs = GRAY_DELAY_MS
      const phase = async (name: string, url: (i: number) => string) => {
        const shots = await load(GRAY_REQUESTS, 3, (i) => shoot(app, url(i), fig))
        expectOk(fig, shots, name)
        const latencies = shots.map((s) => s.latencyMs)
        const later = latencies.slice(10)
        fig.set(
          `${name}: median / max ms (past the first 10: median)`,
          `${percentile(latencies, 50).toFixed(0)} / ${Math.max(...latencies).toFixed(0)} (${percentile(later, 50).toFixed(0)})`,
        )
        fig.set(`${name}: HITs`, shots.filter((s) => s.xCache === 'HIT').length)
        return { max: Math.max(...latencies), laterMedian: percentile(later, 50) }
      }
      const hits = await phase('cached keys', (i) =>
        i % 2 ? `/plain/${i % GRAY_KEYS}` : `/tagged/${i % GRAY_KEYS}`,
      )
      const misses = await phase('cold keys', (i) => (i % 2 ? `/plain/cold-${i}` : `/tagged/cold-${i}`))
      await app.cache.drain()
      proxy.replyDelayMs = 0
      fig.set('circuit transitions', circuit.join(' > ') || 'none')

      expect(fig.errors).toBe(0)
      expect(Math.max(hits.max, misses.max)).toBeLessThanOrEqual(
        GRAY_DEADLINE_MS + GRAY_ORIGIN_MS + GRAY_MARGIN_MS,
      )
      expect(hits.laterMedian).toBeLessThanOrEqual(ROUTED_AROUND_MEDIAN_MS)
      expect(misses.laterMedian).toBeLessThanOrEqual(ROUTED_AROUND_MEDIAN_MS)
    },
  )
}

describe('issue 13: cost and resource edges', () => {
  beforeAll(warmUp)

  clockSkewScenario('standalone')
  clockSkewScenario('cluster')
  leftoverKeysScenario('standalone')
  leftoverKeysScenario('cluster')
  grayFailureScenario()
})
