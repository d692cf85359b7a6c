// Issue 13, "stale reads after an invalidation resolved": each scenario reproduces one edge and states
// the guarantee it must hold.

import { createTagProvider } from '@fastkey/cache-tags'
import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { busOf } from '@fastkey/fastify-cache/testing'
import { clusterNodes } from '@fastkey/test-services'
import type { FastifyInstance } from 'fastify'
import { type Cluster, Redis } from 'ioredis'
import { beforeAll, describe, expect } from 'vitest'
import { adminClient, buildApp, FAST, keydbEngine, namespaceKeys } from '../src/apps.js'
import type { Figures } from '../src/figures.js'
import { deferred, shoot, sleep } from '../src/load.js'
import { scenario } from '../src/scenario.js'
import { CLUSTER_SKIP, sharedTarget, type Target, type TargetKind, targetClient } from '../src/targets.js'
import { TcpProxy } from '../src/tcp-proxy.js'
import { warmUp } from '../src/warm-up.js'

const TRIALS = 5
/** How long after the invalidation a read is still checked for the old data. */
const LATER_MS = 1_000

interface Row {
  version: number
}

/**
 * A products list whose tags come from the payload (the route path of cache-tags, `since`/clock), and
 * a gate that pauses the handler between its read and its reply.
 */
function listRoute(db: { version: number; gate?: (() => Promise<void>) | undefined }, fig: Figures) {
  return (app: FastifyInstance) =>
    app.get(
      '/products',
      {
        config: {
          cache: {
            ttlMs: 60_000,
            tags: (_req, payload) => ['products', ...(payload as Row[]).map((_, i) => `product:${i}`)],
          },
        },
      },
      async () => {
        fig.origin()
        const rows: Row[] = [{ version: db.version }, { version: db.version }] // the read
        await db.gate?.()
        return rows
      },
    )
}

/** Version the response carries (every row has it). */
function versionOf(body: string): number {
  return (JSON.parse(body) as Row[])[0]!.version
}

/**
 * One trial of item 1: a fill in flight while `products` is invalidated, then the tag's hard version
 * key is deleted (what an eviction, an expiry or a lossy failover does). Resolves the reads that came
 * back with the old data (at once, and LATER_MS later).
 */
async function evictedVersionTrial(
  app: FastifyInstance,
  target: Target,
  db: { version: number; gate?: (() => Promise<void>) | undefined },
  url: string,
  fig: Figures,
): Promise<{ now: boolean; later: boolean }> {
  const read = deferred()
  const resume = deferred()
  db.gate = async () => {
    read.resolve()
    await resume.promise
  }
  const pending = shoot(app, url, fig)
  await read.promise
  db.gate = undefined
  db.version++ // the write commits...
  await app.cache.invalidateTags(['products']) // ...then invalidates, and that resolved
  await target.admin.del(`${target.namespace}:t:{products}`)
  resume.resolve()
  await pending // its own caller gets what it read: allowed
  await app.cache.drain() // the fill is written after its response
  const check = async (when: string) => {
    const shot = await shoot(app, url, fig)
    const old = versionOf(shot.body) < db.version
    if (old)
      fig.violation(
        `${when}: ${url} served version ${versionOf(shot.body)} (${shot.xCache}) after v${db.version} was invalidated`,
      )
    return old
  }
  const now = await check('at once')
  await sleep(LATER_MS)
  const later = await check(`${LATER_MS} ms later`)
  return { now, later }
}

/**
 * The same on a service call whose tags are known before the load (`getOrSet(..., { tags })`): the
 * versions are compared exactly, so this path already refuses the fill.
 */
async function serviceTrial(
  app: FastifyInstance,
  target: Target,
  trial: number,
  fig: Figures,
): Promise<boolean> {
  let row = 'old'
  const read = deferred()
  const resume = deferred()
  const key = `svc:${trial}`
  const pending = app.cache.getOrSet(
    key,
    async () => {
      fig.origin()
      const seen = row
      read.resolve()
      await resume.promise
      return seen
    },
    { tags: ['rows'] },
  )
  await read.promise
  row = 'new'
  await app.cache.invalidateTags(['rows'])
  await target.admin.del(`${target.namespace}:t:{rows}`)
  resume.resolve()
  await pending
  await app.cache.drain()
  fig.requests++
  const got = await app.cache.get(key)
  if (got === 'old') fig.violation(`service ${key}: served 'old' after the invalidation resolved`)
  return got === 'old'
}

function evictedVersionScenario(kind: TargetKind): void {
  scenario(
    {
      id: `tag-version-deleted-${kind}`,
      area: 'races',
      title: `Evicted tag version during a fill (${kind === 'cluster' ? 'cluster' : 'one server'})`,
      did: `${TRIALS} trials on a route whose tags come from the payload (products, product:<i>; cache-tags defaults): the handler has read v(n) and is paused; v(n+1) commits and invalidateTags([products]) resolves; the tag's hard version key is then DEL'ed (as an eviction, expiry or lossy failover would); the handler answers; the list is read at once and ${LATER_MS} ms later. Then ${TRIALS} trials of the same on getOrSet with tags known before the load`,
      criterion:
        'after invalidateTags resolved, no read returns data loaded before it: 0 of the route trials and 0 of the service trials serve the old version (at once or later); a seal that finds a tag version missing must not read it as "never invalidated"',
      ...(kind === 'cluster' && { skip: CLUSTER_SKIP }),
    },
    async (ctx) => {
      const { fig } = ctx
      const target = await sharedTarget(ctx, kind, 'tagdel')
      const db: { version: number; gate?: (() => Promise<void>) | undefined } = { version: 1 }
      const app = await buildApp(ctx, {
        keydb: target.keydb,
        cache: { keyPrefix: target.namespace },
        tags: true,
        routes: listRoute(db, fig),
      })
      let oldNow = 0
      let oldLater = 0
      for (let trial = 0; trial < TRIALS; trial++) {
        const { now, later } = await evictedVersionTrial(app, target, db, `/products?trial=${trial}`, fig)
        if (now) oldNow++
        if (later) oldLater++
      }
      let serviceOld = 0
      for (let trial = 0; trial < TRIALS; trial++)
        if (await serviceTrial(app, target, trial, fig)) serviceOld++
      fig.set('route trials serving the old list at once', `${oldNow}/${TRIALS}`)
      fig.set(`route trials serving the old list ${LATER_MS} ms later`, `${oldLater}/${TRIALS}`)
      fig.set('service trials serving the old value', `${serviceOld}/${TRIALS}`)
      fig.set('fills refused as raced (route + service)', app.cacheTags.stats.raced)

      expect(serviceOld).toBe(0)
      expect(oldNow).toBe(0)
      expect(oldLater).toBe(0)
      expect(fig.violations).toBe(0)
    },
  )
}

const WRITES = 300
const PAGES = 5
const READERS = 8
const EVICTION_ORIGIN_MS = 10
/** Pause between writes: some fills overlap an invalidation, most do not (and are stored). */
const WRITE_GAP_MS = 15
const JUNK_BYTES = 20_000
const JUNK_PER_WRITE = 2

async function evictedKeys(admin: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/evicted_keys:(\d+)/.exec(await admin.info('stats'))?.[1] ?? 0)
}

async function usedMemory(admin: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1])
}

function evictionScenario(policy: 'allkeys-random' | 'allkeys-lru'): void {
  scenario(
    {
      id: `tag-version-${policy}`,
      area: 'server',
      title: `${policy} eviction while writes invalidate a tag`,
      did: `throwaway server with \`${policy}\` and maxmemory 150 KB above the data; ${PAGES} list pages tagged products + page:<n> (payload tags), origin ${EVICTION_ORIGIN_MS} ms, cache-tags defaults (clockSkewMs detected: 0); ${WRITES} writes ${WRITE_GAP_MS} ms apart (version bumped, invalidateTags([products]), then ${JUNK_PER_WRITE} junk keys of ${JUNK_BYTES / 1000} KB, each making the server evict ~20 KB of keys) while ${READERS} readers request random pages`,
      criterion:
        'a read that starts after invalidateTags resolved never returns a version older than the one that invalidation published (0 stale reads), whatever the server evicts; eviction bites (evicted keys > 0)',
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const server = await ctx.redis({ args: ['--maxmemory-policy', policy] })
      const admin = await adminClient(ctx, server.url)
      const db = { version: 1 }
      let committed = 1
      const app = await buildApp(ctx, {
        keydb: { url: server.url },
        // Defaults: on this one server the detected clockSkewMs is 0 (exact). A 100 ms margin would refuse
        // nearly every fill at this write rate, which would hide the edge.
        tags: true,
        routes: (app) =>
          app.get(
            '/list/:page',
            {
              config: {
                cache: {
                  ttlMs: 60_000,
                  tags: (req) => ['products', `page:${(req.params as { page: string }).page}`],
                },
              },
            },
            async (req) => {
              fig.origin()
              const version = db.version // the read
              await sleep(EVICTION_ORIGIN_MS)
              return { page: (req.params as { page: string }).page, version, pad: 'x'.repeat(1_000) }
            },
          ),
      })
      for (let page = 0; page < PAGES; page++) await shoot(app, `/list/${page}`, fig)
      await app.cache.drain()
      const junk = 'j'.repeat(JUNK_BYTES)
      let junkWritten = 0
      await admin.config('SET', 'maxmemory', String((await usedMemory(admin)) + 150_000))
      const evictedBefore = await evictedKeys(admin)
      while ((await evictedKeys(admin)) === evictedBefore && junkWritten < 10_000)
        await admin.set(`junk:${junkWritten++}`, junk)
      let writing = true
      let stale = 0
      let staleHits = 0
      // What the stale entry recorded for `products`: `c…` = a version its own seal created.
      const recordedKinds: string[] = []
      const recordedKind = async (page: number, version: number) => {
        const needle = `"page":"${page}","version":${version},`
        for (const key of await namespaceKeys(admin, 'fk', 'e')) {
          const raw = await admin.getBuffer(key)
          if (!raw?.includes(needle)) continue
          return /products ([ci])\d/.exec(raw.toString('latin1'))?.[1] ?? '?'
        }
        return 'gone'
      }
      const readers = Array.from({ length: READERS }, async (_, r) => {
        let i = 0
        while (writing) {
          const page = (r * 7 + i++ * 3) % PAGES
          const floor = committed
          const shot = await shoot(app, `/list/${page}`, fig)
          if (shot.status !== 200) {
            fig.error(`/list/${page}: status ${shot.status}`)
            continue
          }
          const version = (JSON.parse(shot.body) as { version: number }).version
          if (version < floor) {
            stale++
            if (shot.xCache === 'HIT') staleHits++
            recordedKinds.push(await recordedKind(page, version))
            fig.violation(`/list/${page} served v${version} (${shot.xCache}) after v${floor} was invalidated`)
          }
        }
      })
      for (let w = 0; w < WRITES; w++) {
        db.version++
        await app.cache.invalidateTags(['products'])
        committed = db.version
        // Memory pressure right after the invalidation, while fills that overlapped it are sealing:
        // each junk write makes the server evict ~20 KB of keys (entries, versions, generations).
        for (let j = 0; j < JUNK_PER_WRITE; j++) await admin.set(`junk:${junkWritten++}`, junk)
        await sleep(WRITE_GAP_MS)
      }
      writing = false
      await Promise.all(readers)
      await app.cache.drain()
      fig.set('writes (invalidations)', WRITES)
      fig.set('stale reads (of which HIT)', `${stale} (${staleHits})`)
      fig.set(
        'products version recorded by the stale entries (c = created by its seal)',
        recordedKinds.join(' ') || '-',
      )
      fig.set('keys evicted during the run', (await evictedKeys(admin)) - evictedBefore)
      fig.set('fills refused as raced', app.cacheTags.stats.raced)
      fig.set('clockSkewMs in use', app.cacheTags.clockSkewMs)

      expect(fig.errors).toBe(0)
      expect((await evictedKeys(admin)) - evictedBefore).toBeGreaterThan(0)
      expect(stale).toBe(0)
    },
  )
}

/**
 * A KeyDB store that can hold one read's reply (after KeyDB answered) until this instance calls
 * `delete()`: the interleaving of a read whose reply is still on its way when the delete starts.
 */
class HeldReadStore extends KeydbStore {
  #held: { key: string; replied: () => void; release: Promise<void> } | undefined
  #release: (() => void) | undefined

  /** The next read of `key` is held; resolves once KeyDB has answered it (with the old entry). */
  holdNextRead(key: string): Promise<void> {
    const replied = deferred()
    const release = deferred()
    this.#held = { key, replied: replied.resolve, release: release.promise }
    this.#release = release.resolve
    return replied.promise
  }

  override async get(key: string) {
    const held = this.#held?.key === key ? this.#held : undefined
    if (held) this.#held = undefined
    const value = await super.get(key)
    if (held) {
      held.replied()
      await held.release
    }
    return value
  }

  override delete(keys: readonly string[]) {
    const deleting = super.delete(keys) // the DEL is on the wire...
    this.#release?.() // ...and the read's reply, which KeyDB sent before it, is processed now
    this.#release = undefined
    return deleting
  }
}

/** Resolves on the next bus message of `kind` that `cache` hears. */
function nextMessage(cache: Cache, kind: string): Promise<void> {
  const heard = deferred()
  busOf(cache).on(kind, () => heard.resolve())
  return heard.promise
}

const L1_TTL_MS = 5_000
const OWN_L1_TRIALS = 3

function ownL1Scenario(kind: TargetKind): void {
  scenario(
    {
      id: `own-l1-read-during-delete-${kind}`,
      area: 'races',
      title: `A read in flight during this instance's own delete() (${kind === 'cluster' ? 'cluster' : 'one server'})`,
      did: `${OWN_L1_TRIALS} trials: instance B writes k = old; instance A (L1 on, l1.ttlMs ${L1_TTL_MS}) starts get(k), KeyDB answers it with the old entry, and that reply is processed just after A's delete(k) started (the DEL already sent, a store wrapper holds the reply until then); once delete() resolved, A and B read k every 100 ms for ${L1_TTL_MS + 500} ms`,
      criterion:
        'after delete(k) resolved no instance serves the old value, the deleting one included (0 reads of it); the held get() itself may return it (it started before the delete)',
      timeoutMs: 60_000,
      ...(kind === 'cluster' && { skip: CLUSTER_SKIP }),
    },
    async (ctx) => {
      const { fig } = ctx
      const target = await sharedTarget(ctx, kind, 'ownl1')
      const storeA = new HeldReadStore({
        client: await targetClient(ctx, target),
        keyPrefix: target.namespace,
        commandTimeoutMs: FAST.commandTimeoutMs,
      })
      const a = new Cache({
        store: storeA,
        breaker: FAST.breaker,
        l1: { maxEntries: 1_000, ttlMs: L1_TTL_MS },
      })
      ctx.defer(async () => {
        await a.close()
        await storeA.close()
      })
      const b = keydbEngine(ctx, (await targetClient(ctx, target)) as Redis, target.namespace)
      await Promise.all([a.ready(), b.ready()])
      let trialsServingOld = 0
      let longestOldMs = 0
      for (let trial = 0; trial < OWN_L1_TRIALS; trial++) {
        const key = `row:${trial}`
        // A must have heard B's write first: an eviction heard while its read is in flight would (rightly)
        // keep the reply out of its L1, which is not the edge under test.
        const heardWrite = nextMessage(a, 'k')
        await b.set(key, 'old', { ttlMs: 60_000 })
        await heardWrite
        const replied = storeA.holdNextRead(key)
        const inFlight = a.get(key)
        await replied
        const deleted = a.delete(key)
        fig.requests++
        const own = await inFlight // started before the delete: allowed to see 'old'
        await deleted
        const resolvedAt = performance.now()
        let lastOldMs = -1
        while (performance.now() - resolvedAt < L1_TTL_MS + 500) {
          for (const [name, x] of [
            ['A', a],
            ['B', b],
          ] as const) {
            fig.requests++
            if ((await x.get(key)) === 'old') {
              lastOldMs = performance.now() - resolvedAt
              fig.violation(
                `trial ${trial}: ${name} served 'old' ${Math.round(lastOldMs)} ms after delete() resolved`,
              )
            }
          }
          await sleep(100)
        }
        if (lastOldMs >= 0) trialsServingOld++
        longestOldMs = Math.max(longestOldMs, lastOldMs)
        fig.set(`trial ${trial}: held get() returned`, String(own))
      }
      fig.set(
        'trials in which the old value was served after delete() resolved',
        `${trialsServingOld}/${OWN_L1_TRIALS}`,
      )
      fig.set('old value served until (ms after delete() resolved)', Math.round(longestOldMs))

      expect(trialsServingOld).toBe(0)
      expect(fig.violations).toBe(0)
    },
  )
}

/** Rounds of writes after B's subscription went silent, ms after it did. */
const SILENT_ROUNDS_AT_MS = [0, 1_500, 3_000]
/** The liveness bound the issue asks for: an instance that cannot hear the bus stops using its L1 by then. */
const BUS_LIVENESS_BOUND_MS = 1_000
const POLL_MS = 50

/** Where B's subscriber connects (through the proxy): the server, or one node of the cluster. */
function subscriberAddress(target: Target): { host: string; port: number } {
  if (target.kind === 'cluster') return clusterNodes()![0]!
  const url = new URL((target.keydb as { url: string }).url)
  return { host: url.hostname, port: Number(url.port || 6379) }
}

function halfOpenBusScenario(kind: TargetKind): void {
  scenario(
    {
      id: `bus-half-open-${kind}`,
      area: 'races',
      title: `Half-open bus subscription (${kind === 'cluster' ? 'cluster' : 'one server'})`,
      did: `instances A and B, L1 on (l1.ttlMs ${L1_TTL_MS}), cache-tags (versionTtlMs 1000); B's bus subscriber goes through a TCP proxy that then silently stops forwarding the server's bytes (the connection stays open, nothing is reset); at ${SILENT_ROUNDS_AT_MS.join(', ')} ms after that, A writes a key and a tagged entry that B holds in its L1, then delete()s the key and invalidateTags() the tag (both resolve); B reads both every ${POLL_MS} ms`,
      criterion: `B serves no old value later than ${BUS_LIVENESS_BOUND_MS} ms after its subscription went silent (an instance that stops hearing the bus stops trusting its L1 and memoised versions within the bound), untagged and tagged`,
      timeoutMs: 60_000,
      ...(kind === 'cluster' && { skip: CLUSTER_SKIP }),
    },
    async (ctx) => {
      const { fig } = ctx
      const target = await sharedTarget(ctx, kind, 'halfopen')
      const address = subscriberAddress(target)
      const proxy = await TcpProxy.start(ctx, address.port, address.host)
      const subB = new Redis(proxy.port, '127.0.0.1', { enableOfflineQueue: true, lazyConnect: true })
      subB.on('error', () => {})
      ctx.defer(() => subB.disconnect())
      await subB.connect()
      const engine = (client: Redis | Cluster, subscriber?: Redis) => {
        const store = new KeydbStore({
          client,
          keyPrefix: target.namespace,
          commandTimeoutMs: FAST.commandTimeoutMs,
          ...(subscriber && { subscriber }),
        })
        const cache = new Cache({
          store,
          breaker: FAST.breaker,
          l1: { maxEntries: 1_000, ttlMs: L1_TTL_MS },
          tags: createTagProvider(),
        })
        ctx.defer(async () => {
          await cache.close()
          await store.close()
        })
        return cache
      }
      const a = engine(await targetClient(ctx, target))
      const b = engine(await targetClient(ctx, target), subB)
      await Promise.all([a.ready(), b.ready()])
      expect(busOf(b).healthy).toBe(true)

      // Each round: A writes u:<r> and t:<r> (tag tg:<r>), B reads them (now in B's L1), then A deletes
      // u:<r> and invalidates tg:<r>. Old = what B read before the delete / invalidation resolved.
      const invalidatedAt = new Map<string, number>()
      const lastOld = new Map<string, number>()
      const round = async (r: number) => {
        await a.set(`u:${r}`, `u${r}-old`, { ttlMs: 60_000 })
        await a.set(`t:${r}`, `t${r}-old`, { ttlMs: 60_000, tags: [`tg:${r}`] })
        for (const key of [`u:${r}`, `t:${r}`]) {
          fig.requests++
          if ((await b.get(key)) === undefined) fig.error(`B could not read ${key} before the write`)
        }
        await a.delete(`u:${r}`)
        invalidatedAt.set(`u:${r}`, performance.now())
        await a.invalidateTags([`tg:${r}`])
        invalidatedAt.set(`t:${r}`, performance.now())
      }
      await sleep(100)
      proxy.silent = true
      const silentAt = performance.now()
      const rounds = SILENT_ROUNDS_AT_MS.map(async (at, r) => {
        await sleep(at)
        await round(r)
      })
      const pollUntil = silentAt + SILENT_ROUNDS_AT_MS.at(-1)! + L1_TTL_MS + 1_000
      while (performance.now() < pollUntil) {
        for (const [key, at] of invalidatedAt) {
          fig.requests++
          const value = await b.get(key)
          if (typeof value === 'string' && value.endsWith('-old')) {
            const now = performance.now()
            lastOld.set(key, now)
            fig.violation(
              `B served ${key} = ${value} ${Math.round(now - at)} ms after A's invalidation resolved (${Math.round(now - silentAt)} ms after its bus went silent)`,
            )
          }
        }
        await sleep(POLL_MS)
      }
      await Promise.all(rounds)
      const after = (key: string) => {
        const last = lastOld.get(key)
        return last === undefined ? 0 : Math.round(last - invalidatedAt.get(key)!)
      }
      const latest = Math.max(0, ...[...lastOld.values()].map((t) => t - silentAt))
      for (let r = 0; r < SILENT_ROUNDS_AT_MS.length; r++)
        fig.set(
          `round at +${SILENT_ROUNDS_AT_MS[r]} ms: B served old untagged / tagged until (ms after the write resolved)`,
          `${after(`u:${r}`)} / ${after(`t:${r}`)}`,
        )
      fig.set('last old value served, ms after the bus went silent', Math.round(latest))
      fig.set("B's bus still reported healthy at the end", busOf(b).healthy)
      fig.set('server chunks dropped on the silent subscription', proxy.dropped)
      proxy.silent = false

      expect(fig.errors).toBe(0)
      expect(proxy.dropped).toBeGreaterThan(0) // the subscription really went silent
      expect(latest).toBeLessThanOrEqual(BUS_LIVENESS_BOUND_MS)
    },
  )
}

describe('issue 13: stale reads after an invalidation resolved', () => {
  beforeAll(warmUp)

  evictedVersionScenario('standalone')
  evictedVersionScenario('cluster')
  evictionScenario('allkeys-random')
  evictionScenario('allkeys-lru')
  ownL1Scenario('standalone')
  ownL1Scenario('cluster')
  halfOpenBusScenario('standalone')
  halfOpenBusScenario('cluster')
})
