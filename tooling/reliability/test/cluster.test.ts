import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import type { FastifyInstance } from 'fastify'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect } from 'vitest'
import { buildApp, FAST } from '../src/apps.js'
import { clusterUnavailable, startCluster, type ThrowawayCluster } from '../src/cluster.js'
import { Figures } from '../src/figures.js'
import { burst, expectOk, load, loadFor, shoot, sleep, waitUntil } from '../src/load.js'
import { Origin } from '../src/origin.js'
import { type ScenarioContext, scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

const skip = clusterUnavailable()
const FROZEN_KEYS = 30
/** Below the cluster's node timeout (1 s): the other masters keep the cluster up. */
const FROZEN_MS = 700
const FROZEN_L1_TTL_MS = 5_000
let cluster: ThrowawayCluster | undefined

/** The first cluster client of the process pays one-off costs (code paths, script loading): unmeasured. */
async function warmUpCluster(c: ThrowawayCluster): Promise<void> {
  const cleanups: Array<() => unknown> = []
  const ctx = {
    fig: new Figures(),
    defer: (f: () => unknown) => void cleanups.push(f),
    redis: () => Promise.reject(),
  }
  try {
    const app = await buildApp(ctx as unknown as ScenarioContext, {
      keydb: { cluster: { nodes: c.nodes } },
      tags: true,
      cache: { keyPrefix: 'warm' },
      routes: (app) =>
        app.get('/w/:id', { config: { cache: { tags: () => ['w'] } } }, async (req) => req.params),
    })
    await burst(100, (i) => shoot(app, `/w/${i}`))
    await app.cache.invalidateTags(['w'])
    await app.cache.clear()
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
}

function clusterOf(app: FastifyInstance): { scriptsSet: Record<string, { sha: string }> } {
  return app.keydb as unknown as { scriptsSet: Record<string, { sha: string }> }
}

describe('Redis Cluster (a throwaway 3-master cluster of our own)', () => {
  beforeAll(async () => {
    if (skip) return
    await warmUp()
    cluster = await startCluster()
    // Admin connections are opened before the scenarios: they are not a scenario's leftovers.
    for (let i = 0; i < 3; i++) await cluster.admin(i).ping()
    await warmUpCluster(cluster)
  }, 60_000)
  afterAll(() => cluster?.stop())

  scenario(
    {
      id: 'cluster-lua-scripts',
      area: 'cluster',
      title: 'Every Lua script on the cluster',
      did: 'app on the cluster with cache-tags: 100 cold and 100 warm requests over 100 keys, 10 concurrent (batched reads per slot), fills with and without the lock, entries with 3 tags, 20 requests to a route whose responses vary on accept-language, service getOrSet/delete of 20 keys, a 4-tag invalidation, clear(); stats reset on every master first',
      criterion:
        'no cache error event (deadline timeouts counted apart); no CROSSSLOT in INFO errorstats on any master; every script the engine and cache-tags define ran on some master (SCRIPT EXISTS)',
      skip,
    },
    async (ctx) => {
      const { fig } = ctx
      const c = cluster!
      await Promise.all([0, 1, 2].map((i) => c.admin(i).config('RESETSTAT')))
      const origin = new Origin(fig, 1)
      const app = await buildApp(ctx, {
        keydb: { cluster: { nodes: c.nodes } },
        tags: true,
        cache: { keyPrefix: 'lua' },
        routes: (app) => {
          const tags = (req: { params: unknown }) => {
            const id = Number((req.params as { id: string }).id)
            return [`t:${id % 5}`, 'all', `p:${id}`]
          }
          app.get('/a/:id', { config: { cache: { tags } } }, (req) =>
            origin.fetch((req.params as { id: string }).id),
          )
          app.get('/b/:id', { config: { cache: { lock: false } } }, (req) =>
            origin.fetch((req.params as { id: string }).id),
          )
          // A response that varies on a request header: its URL's vary marker (fkVary).
          app.get('/v/:id', { config: { cache: {} } }, (req, reply) => {
            reply.header('vary', 'accept-language')
            return origin.fetch((req.params as { id: string }).id)
          })
        },
      })
      const errors: string[] = []
      let timeouts = 0
      app.cache.events.on('error', (e) => {
        const code = (e.error as { code?: string }).code
        // A deadline on a shared 2-core machine is not a script failure; it is counted, not failed on.
        if (code === 'FST_CACHE_STORE_TIMEOUT' || code === 'FST_CACHE_TAGS_TIMEOUT') timeouts++
        else errors.push(`${e.operation}: ${(e.error as Error).message}`)
      })
      const urls = Array.from({ length: 100 }, (_, i) => (i % 2 ? `/a/${i}` : `/b/${i}`))
      // 10 at a time: reads of one turn are still batched per slot, without a CPU burst that would
      // stall this process (every instance and the load generator share it).
      expectOk(fig, await load(100, 10, (i) => shoot(app, urls[i]!, fig)), 'cold')
      await app.cache.drain()
      await sleep(50) // fills are written after their responses
      const warm = await load(100, 10, (i) => shoot(app, urls[i]!, fig))
      expectOk(fig, warm, 'warm')
      fig.set('warm hits', warm.filter((s) => s.xCache === 'HIT').length)
      const languages = ['en', 'fr']
      const varied = await load(20, 10, (i) =>
        shoot(app, { url: `/v/${i % 10}`, headers: { 'accept-language': languages[i % 2]! } }, fig),
      )
      expectOk(fig, varied, 'varying')
      await app.cache.drain()
      const keys = Array.from({ length: 20 }, (_, i) => `svc:${i}`)
      for (const key of keys) await app.cache.getOrSet(key, () => ({ key }), { tags: ['svc', `k:${key}`] })
      await app.cache.delete(keys)
      await app.cache.invalidateTags(['t:0', 't:1', 't:2', 'all'])
      expectOk(fig, await load(20, 10, (i) => shoot(app, `/a/${2 * i + 1}`, fig)), 'after invalidation')
      await app.cache.drain()
      fig.set('clear() removed', await app.cache.clear())

      const scripts = clusterOf(app).scriptsSet
      const ran: string[] = []
      const never: string[] = []
      for (const [name, script] of Object.entries(scripts)) {
        const exists = await Promise.all(
          [0, 1, 2].map(async (i) => ((await c.admin(i).script('EXISTS', script.sha)) as number[])[0] === 1),
        )
        ;(exists.some(Boolean) ? ran : never).push(name)
      }
      const errorstats = await Promise.all([0, 1, 2].map((i) => c.admin(i).info('errorstats')))
      const serverErrors = errorstats.flatMap((text) =>
        text
          .split('\n')
          .filter((l) => l.startsWith('errorstat_'))
          .map((l) => l.trim()),
      )
      const crossSlot = serverErrors.filter((l) => l.includes('CROSSSLOT'))
      fig.set('scripts run', ran.join(', '))
      fig.set('server error stats', serverErrors.join(' ') || 'none')
      fig.set('store deadline timeouts', timeouts)
      for (const e of errors) fig.error(e)

      expect(fig.details).toEqual([])
      expect(crossSlot).toEqual([])
      expect(never).toEqual([])
      expect(ran.length).toBeGreaterThanOrEqual(7)
    },
  )

  scenario(
    {
      id: 'cluster-master-killed',
      area: 'cluster',
      title: 'Cluster master killed',
      did: 'app on the cluster, 60 keys warm; load of 10 concurrent requests for 3 s while one master is SIGKILLed (the cluster goes down once the others mark it failed, 1 s node timeout); the master restarted afterwards',
      criterion:
        '0 non-2xx (degrades to the origin); every request within commandTimeoutMs + origin + 250 ms; caching resumes (HIT) after the master is back, without an app restart',
      skip,
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const c = cluster!
      const origin = new Origin(fig, 10)
      const app = await buildApp(ctx, {
        keydb: { cluster: { nodes: c.nodes } },
        cache: { keyPrefix: 'mk' },
        routes: (app) => origin.route(app),
      })
      const circuit: string[] = []
      app.cache.events.on('circuit', (e) => circuit.push(e.state))
      expectOk(fig, await burst(60, (i) => shoot(app, `/items/${i}`, fig)), 'warm-up')
      await sleep(100)
      const during = loadFor(3_000, 10, (i) => shoot(app, `/items/${i % 60}`, fig))
      await sleep(100)
      await c.servers[1]!.kill()
      const shots = await during
      expectOk(fig, shots, 'master down')
      fig.set('requests while the master was down', shots.length)
      fig.set('breaker opened (times)', circuit.filter((state) => state === 'open').length)
      const slowest = Math.max(...shots.map((s) => s.latencyMs))

      const restartedAt = performance.now()
      await c.servers[1]!.restart()
      expect(await c.waitOk(20_000)).toBe(true)
      fig.set('cluster ok again after ms', performance.now() - restartedAt)
      const hit = await waitUntil(
        async () => {
          await shoot(app, '/items/back')
          return (await shoot(app, '/items/back')).xCache === 'HIT'
        },
        15_000,
        100,
      )
      if (hit !== undefined) fig.set('first HIT after restart ms', performance.now() - restartedAt)

      expect(fig.details).toEqual([])
      expect(slowest).toBeLessThan(150 + 10 + 250)
      expect(hit).toBeDefined()
    },
  )

  scenario(
    {
      id: 'cluster-master-frozen-during-writes',
      area: 'cluster',
      title: 'A cluster master frozen while writes invalidate (the bus keeps working)',
      did: `instances A and B on the cluster (L1 on, l1.ttlMs ${FROZEN_L1_TTL_MS}), ${FROZEN_KEYS} keys written by A and read by B (in B's L1); one master SIGSTOPped for ${FROZEN_MS} ms (below the node timeout: the cluster stays up, its other masters and the bus answer); A delete()s every key; B and A read every key every 20 ms from the freeze until 2 s after A's held deletes were replayed`,
      criterion:
        "from the first delete that meets the frozen master on, deletes reject FST_CACHE_INVALIDATION_PENDING (held; a later delete replays the held ones first, so it is held too while the master is frozen); no instance serves an old value after its delete, from L1 or from the master once it is back with the old entries (B sees no gap of its own: A's holding heartbeat tells it); the held deletes are replayed once the master answers",
      skip,
      timeoutMs: 60_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const c = cluster!
      const instance = async () => {
        const client = new Cluster(c.nodes, {
          enableOfflineQueue: false,
          redisOptions: { maxRetriesPerRequest: 0 },
          lazyConnect: true,
        })
        client.on('error', () => {})
        await client.connect()
        const store = new KeydbStore({ client, keyPrefix: 'frozen', commandTimeoutMs: FAST.commandTimeoutMs })
        const cache = new Cache({
          store,
          breaker: FAST.breaker,
          l1: { maxEntries: 1_000, ttlMs: FROZEN_L1_TTL_MS },
        })
        ctx.defer(async () => {
          await cache.close()
          await store.close()
          client.disconnect()
        })
        return cache
      }
      const [a, b] = [await instance(), await instance()]
      await Promise.all([a.ready(), b.ready()])
      await sleep(300) // each has heard the other
      const keys = Array.from({ length: FROZEN_KEYS }, (_, i) => `k${i}`)
      for (const key of keys) {
        await a.set(key, `old-${key}`, { ttlMs: 60_000 })
        if ((await b.get(key)) !== `old-${key}`) fig.error(`B could not read ${key} before the freeze`)
      }

      const deleted = new Set<string>()
      const readAll = async () => {
        // Each read is a later request: the instance's event loop polled its sockets once since the
        // delete returned (what a request reaching it over the network implies at the least).
        await new Promise((resolve) => setImmediate(resolve))
        for (const [name, cache] of [
          ['A', a],
          ['B', b],
        ] as const)
          for (const key of deleted) {
            fig.requests++
            const value = await cache.get(key)
            if (value === `old-${key}`) fig.violation(`${name} served ${key} = ${value} after its delete`)
          }
      }
      await c.servers[1]!.pause()
      const frozenAt = performance.now()
      let pending = 0
      for (const key of keys) {
        const outcome = await a.delete(key).then(
          () => 'resolved',
          (error: { code?: string }) => error.code ?? 'error',
        )
        deleted.add(key)
        if (outcome === 'FST_CACHE_INVALIDATION_PENDING') pending++
        else if (outcome !== 'resolved') fig.error(`delete(${key}) ended ${outcome}`)
        await readAll()
      }
      while (performance.now() - frozenAt < FROZEN_MS) {
        await readAll()
        await sleep(20)
      }
      c.servers[1]!.resume()
      const resumedAt = performance.now()
      const replayed = await waitUntil(
        async () => {
          await readAll()
          return a.pendingInvalidations.keys === 0
        },
        10_000,
        20,
      )
      const until = performance.now() + 2_000
      while (performance.now() < until) {
        await readAll()
        await sleep(20)
      }
      await a.set('after', 'fresh', { ttlMs: 60_000 })
      const resumed = await waitUntil(async () => (await b.get('after')) === 'fresh', 5_000, 50)

      fig.set('deletes held', `${pending} of ${FROZEN_KEYS}`)
      fig.set(
        'held deletes replayed after the master resumed, ms',
        replayed === undefined ? 'never' : Math.round(performance.now() - resumedAt),
      )
      fig.set('caching resumed on B', resumed !== undefined)

      expect(fig.errors).toBe(0)
      expect(fig.violations).toBe(0)
      expect(pending).toBeGreaterThan(0)
      expect(replayed).toBeDefined()
      expect(resumed).toBeDefined()
    },
  )
})
