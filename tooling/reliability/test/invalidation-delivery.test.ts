// Issue 13 items 4 and 5: an invalidation that cannot reach every server an instance reads from. The
// writer must never be told "done" while another instance can still read the old entry through a
// replica (KeyDB active replication: the other master) whose link is cut, and an invalidation the
// store refused (KeyDB down) must not be lost, even when KeyDB restarts with the old entries in it.

import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { busOf } from '@fastkey/fastify-cache/testing'
import { eventually, type RedisProcess } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { beforeAll, describe, expect } from 'vitest'
import { FAST } from '../src/apps.js'
import { sleep } from '../src/load.js'
import { type ScenarioContext, scenario } from '../src/scenario.js'
import { TcpProxy } from '../src/tcp-proxy.js'
import { warmUp } from '../src/warm-up.js'

const TRIALS = 5
/** How long the replication link stays cut in each trial. */
const CUT_MS = 500
const L1_TTL_MS = 5_000
const REPLICA_ACK_MS = 100
/** After the link is back (or KeyDB restarted), how long the old value may still be read. */
const CATCH_UP_BOUND_MS = 1_000

/** `retryMs`: reconnect after this long each time (default: backoff from 50 ms up to 1 s). */
async function connect(ctx: ScenarioContext, port: number, retryMs?: number): Promise<Redis> {
  // fastify-keydb's fail-fast shape: no offline queue, so a dead server fails at once.
  const client = new Redis(port, '127.0.0.1', {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: (attempt) => retryMs ?? Math.min(50 * 2 ** attempt, 1_000),
  })
  client.on('error', () => {})
  ctx.defer(() => client.disconnect())
  await client.connect()
  return client
}

/**
 * A subscriber for `port` that reconnects `lateMs` after each drop (its store's client reconnects
 * within 50 ms): after a KeyDB restart the store is back before the bus.
 */
function lateSubscriber(ctx: ScenarioContext, port: number, lateMs: number): Redis {
  const client = new Redis(port, '127.0.0.1', {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => lateMs,
  })
  client.on('error', () => {})
  ctx.defer(() => client.disconnect())
  return client
}

/** One app instance (engine) on `client`, L1 on. */
function instance(ctx: ScenarioContext, client: Redis, keyPrefix: string, subscriber?: Redis): Cache {
  const store = new KeydbStore({
    client,
    keyPrefix,
    commandTimeoutMs: FAST.commandTimeoutMs,
    replicaAckMs: REPLICA_ACK_MS,
    ...(subscriber && { subscriber }),
  })
  const cache = new Cache({ store, breaker: FAST.breaker, l1: { maxEntries: 100, ttlMs: L1_TTL_MS } })
  ctx.defer(async () => {
    await cache.close()
    await store.close()
  })
  return cache
}

/** A master and a replica whose replication link goes through a proxy the scenario controls. */
async function replicatedPair(ctx: ScenarioContext) {
  const master = await ctx.redis()
  const link = await TcpProxy.start(ctx, master.port)
  const replica = await ctx.redis({ args: ['--replicaof', '127.0.0.1', String(link.port)] })
  const replicaAdmin = await connect(ctx, replica.port)
  const up = await eventually(
    async () => (await replicaAdmin.info('replication')).includes('master_link_status:up'),
    15_000,
  )
  if (!up) throw new Error('the replica never linked to the master')
  // Invalidations wait for replicas the master counts online (its first acknowledgement arrived).
  const masterAdmin = await connect(ctx, master.port)
  const online = await eventually(
    async () => (await masterAdmin.info('replication')).includes('state=online'),
    15_000,
  )
  if (!online) throw new Error('the master never counted its replica online')
  return { master, replica, link }
}

describe('issue 13: invalidations that cannot reach every server', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'replication-link-cut',
      area: 'races',
      title: 'Replication link cut while a write invalidates (replica, KeyDB active replication)',
      did: `throwaway master and replica, the replication link through a TCP proxy; instance A on the master, instance B reading the replica (L1 on, l1.ttlMs ${L1_TTL_MS}), replicaAckMs ${REPLICA_ACK_MS}; ${TRIALS} trials: A writes k, B reads it (now in B's L1); the link is held for ${CUT_MS} ms (bytes delayed, nothing lost, as a short cut or a stalled active replica) and A delete()s k; B reads k every 20 ms`,
      criterion: `delete() never resolves while B can still read the old value: it rejects FST_CACHE_INVALIDATION_PENDING within replicaAckMs plus ${FAST.commandTimeoutMs} ms, the held delete is replayed once the link is back, and B stops serving the old value within ${CATCH_UP_BOUND_MS} ms of the link's return (L1 included)`,
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const { master, replica, link } = await replicatedPair(ctx)
      const keyPrefix = 'rel-replcut'
      const a = instance(ctx, await connect(ctx, master.port), keyPrefix)
      const b = instance(ctx, await connect(ctx, replica.port), keyPrefix)
      await Promise.all([a.ready(), b.ready()])
      const rejectMs: number[] = []
      const catchUpMs: number[] = []
      const replayMs: number[] = []
      for (let trial = 0; trial < TRIALS; trial++) {
        const key = `k${trial}`
        const old = `old-${trial}`
        await a.set(key, old, { ttlMs: 60_000 })
        const seen = await eventually(async () => (await b.get(key)) === old, 2_000)
        if (!seen) fig.error(`trial ${trial}: B never read ${key} before the write`)

        link.hold()
        const startedAt = performance.now()
        const outcome = await a.delete(key).then(
          () => 'resolved' as const,
          (error: { code?: string }) => error.code ?? 'error',
        )
        fig.requests++
        if (outcome === 'resolved') {
          // The writer was told "done": from now on no instance may read the old value.
          if ((await b.get(key)) === old)
            fig.violation(`trial ${trial}: delete() resolved while B still read ${key} = ${old}`)
        } else if (outcome !== 'FST_CACHE_INVALIDATION_PENDING')
          fig.error(`trial ${trial}: delete() failed with ${outcome}`)
        else rejectMs.push(performance.now() - startedAt)
        await sleep(Math.max(0, CUT_MS - (performance.now() - startedAt)))
        link.release()
        const releasedAt = performance.now()
        let lastOld = releasedAt
        const caughtUp = await eventually(async () => {
          if ((await b.get(key)) !== old) return a.pendingInvalidations.keys === 0
          lastOld = performance.now()
          return false
        }, 5_000)
        if (!caughtUp)
          fig.violation(`trial ${trial}: B still read ${key} = ${old} 5 s after the link came back`)
        catchUpMs.push(lastOld - releasedAt)
        replayMs.push(performance.now() - releasedAt)
      }
      const max = (values: number[]) => Math.round(Math.max(0, ...values))
      fig.set('trials where delete() rejected as pending', `${rejectMs.length} of ${TRIALS}`)
      fig.set('delete() rejected after, ms (max)', max(rejectMs))
      fig.set('B read the old value after the link came back, ms (max)', max(catchUpMs))
      fig.set('held delete replayed after the link came back, ms (max)', max(replayMs))

      expect(fig.errors).toBe(0)
      expect(fig.violations).toBe(0)
      expect(rejectMs).toHaveLength(TRIALS)
      expect(max(rejectMs)).toBeLessThanOrEqual(REPLICA_ACK_MS + FAST.commandTimeoutMs + 100)
      expect(max(catchUpMs)).toBeLessThanOrEqual(CATCH_UP_BOUND_MS)
    },
  )

  writesWhileDown(0)
  writesWhileDown(SUBSCRIBER_LATE_MS)
})

/** B's subscriber reconnects this long after the restart, its store at once. */
const SUBSCRIBER_LATE_MS = 1_500

function writesWhileDown(subscriberLateMs: number): void {
  const late = subscriberLateMs > 0
  scenario(
    {
      id: late ? 'writes-while-keydb-down-bus-late' : 'writes-while-keydb-down',
      area: 'server',
      title: late
        ? 'Writes while KeyDB is down; after its restart a reader is back on the store before its bus'
        : 'Writes while KeyDB is down, KeyDB restarts with the old entries (append-only file)',
      did: `throwaway server with appendonly yes (fsync always); instances A and B (L1 on, l1.ttlMs ${L1_TTL_MS}) cache ${TRIALS} keys; the server is killed; A delete()s every key (its writes committed); the server restarts from its append-only file, old entries included${late ? `; A reconnects 1 s after each drop, B's store within 50 ms and B's subscriber after ${subscriberLateMs} ms (B's store is back before its bus, and before A replays)` : ''}; A and B read every key every 20 ms from the kill until 3.5 s after the replay`,
      criterion: `each delete() rejects FST_CACHE_INVALIDATION_PENDING at once (the caller commits and answers 2xx; nothing is lost), the held keys are counted, replayed once the server answers, and neither instance ever serves an old value after the delete, from L1 or from the restarted server${late ? ' (B leaves its store alone until its bus is back)' : ''}`,
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const server: RedisProcess = await ctx.redis({
        args: ['--appendonly', 'yes', '--appendfsync', 'always'],
      })
      const keyPrefix = late ? 'rel-down-late' : 'rel-down'
      // Late bus: A (and so its replay) reconnects 1 s after each drop, B's store within 50 ms.
      const a = instance(ctx, await connect(ctx, server.port, late ? 1_000 : undefined), keyPrefix)
      const b = instance(
        ctx,
        await connect(ctx, server.port, late ? 50 : undefined),
        keyPrefix,
        late ? lateSubscriber(ctx, server.port, subscriberLateMs) : undefined,
      )
      await Promise.all([a.ready(), b.ready()])
      await sleep(300) // each has heard the other: peers
      const keys = Array.from({ length: TRIALS }, (_, i) => `p${i}`)
      for (const key of keys) {
        await a.set(key, `old-${key}`, { ttlMs: 60_000 })
        if ((await b.get(key)) !== `old-${key}`) fig.error(`B could not read ${key} before the outage`)
      }

      await server.kill()
      const rejectMs: number[] = []
      for (const key of keys) {
        const startedAt = performance.now()
        fig.requests++
        const code = await a.delete(key).then(
          () => 'resolved',
          (error: { code?: string }) => error.code ?? 'error',
        )
        if (code !== 'FST_CACHE_INVALIDATION_PENDING')
          fig.violation(`delete(${key}) with KeyDB down ended ${code}, expected it kept as pending`)
        rejectMs.push(performance.now() - startedAt)
      }
      const heldDuringOutage = a.pendingInvalidations.keys
      const readAll = async () => {
        for (const cache of [a, b])
          for (const key of keys) {
            fig.requests++
            const value = await cache.get(key)
            if (value === `old-${key}`)
              fig.violation(`${cache === a ? 'A' : 'B'} served ${key} = ${value} after its delete`)
          }
      }
      await readAll()
      await sleep(300)
      await readAll()

      await server.restart()
      const restartedAt = performance.now()
      const replayed = await eventually(async () => {
        await readAll()
        return a.pendingInvalidations.keys === 0
      }, 8_000)
      const replayMs = performance.now() - restartedAt
      const after = performance.now() + 3_500
      while (performance.now() < after) {
        await readAll()
        await sleep(20)
      }
      // Caching resumes on both once the replay is done.
      await a.set('after', 'fresh', { ttlMs: 60_000 })
      const resumed = await eventually(async () => (await b.get('after')) === 'fresh', 3_000)

      fig.set('keys held while KeyDB was down', heldDuringOutage)
      fig.set('delete() rejected after, ms (max)', Math.round(Math.max(...rejectMs)))
      fig.set('held deletes replayed after the restart, ms', Math.round(replayMs))
      fig.set('caching resumed on both instances', resumed)

      expect(fig.errors).toBe(0)
      expect(fig.violations).toBe(0)
      expect(heldDuringOutage).toBe(TRIALS)
      expect(replayed).toBe(true)
      expect(Math.max(...rejectMs)).toBeLessThan(FAST.commandTimeoutMs + 100)
      expect(resumed).toBe(true)
    },
  )
}

/** How late B hears A's plain heartbeats: longer than a heartbeat period, so one is always in flight. */
const RELAY_LATE_MS = 300
const REORDER_TRIALS = 10
/** How long B reads the deleted key while A holds the delete. */
const HOLD_READ_MS = 400

/**
 * A subscriber on `port` that hears the plain heartbeats (`h`) of the instance `from()` names
 * RELAY_LATE_MS late, and everything else at once: on a cluster a message published on one master
 * reaches the instances on the others by relay, a confirmed one (a holding heartbeat) directly from
 * every master, so a peer's older heartbeat can arrive after its newer holding one.
 */
function reorderingSubscriber(ctx: ScenarioContext, port: number, from: () => string): Redis {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  ctx.defer(() => client.disconnect())
  const emit = client.emit.bind(client)
  client.emit = ((event: string | symbol, ...args: unknown[]) => {
    const message = args[1]
    if (event === 'message' && typeof message === 'string' && message.startsWith(`${from()}.`)) {
      if (message.split(' ')[1] === 'h') {
        setTimeout(() => emit(event, ...args), RELAY_LATE_MS).unref()
        return true
      }
    }
    return emit(event, ...args)
  }) as typeof client.emit
  return client
}

describe('a peer hears its messages out of order', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'bus-heartbeat-after-holding',
      area: 'races',
      title: "A peer's older heartbeat arrives after its holding heartbeat (cluster relay)",
      did: `instances A and B on a throwaway server (L1 on); B hears A's plain heartbeats ${RELAY_LATE_MS} ms late (what a relay between cluster masters does, seen 44 ms late on an idle host), the rest at once; ${REORDER_TRIALS} trials: A writes k, B reads it (in B's L1); A's deletes fail (injected), so A holds the delete and says so (a confirmed holding heartbeat); B reads k every 20 ms for ${HOLD_READ_MS} ms; the fault ends and A replays`,
      criterion:
        'while A holds the delete, B never serves the old value (an older heartbeat of A arriving after its holding one does not release it); once A replayed, B reads nothing for k',
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const server = await ctx.redis()
      const keyPrefix = 'rel-reorder'
      const fault = { deletes: false }
      const realA = new KeydbStore({
        client: await connect(ctx, server.port),
        keyPrefix,
        commandTimeoutMs: FAST.commandTimeoutMs,
      })
      const storeA = new Proxy(realA, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver)
          if (typeof value !== 'function') return value
          if (prop !== 'delete') return value.bind(target)
          return async (...args: unknown[]) => {
            if (fault.deletes) throw new Error('injected: the master does not answer')
            return value.apply(target, args)
          }
        },
      })
      const a = new Cache({ store: storeA, breaker: FAST.breaker, l1: { maxEntries: 100, ttlMs: L1_TTL_MS } })
      ctx.defer(async () => {
        await a.close()
        await realA.close()
      })
      const subscriber = reorderingSubscriber(ctx, server.port, () => busOf(a).instanceId)
      const b = instance(ctx, await connect(ctx, server.port), keyPrefix, subscriber)
      await Promise.all([a.ready(), b.ready()])
      await sleep(RELAY_LATE_MS + 300) // B has heard A
      let held = 0
      let replayed = 0
      for (let trial = 0; trial < REORDER_TRIALS; trial++) {
        const key = `k${trial}`
        const old = `old-${trial}`
        await a.set(key, old, { ttlMs: 60_000 })
        if (!(await eventually(async () => (await b.get(key)) === old, 2_000)))
          fig.error(`trial ${trial}: B never read ${key} before the delete`)
        fault.deletes = true
        const outcome = await a.delete(key).then(
          () => 'resolved',
          (error: { code?: string }) => error.code ?? 'error',
        )
        if (outcome === 'FST_CACHE_INVALIDATION_PENDING') held++
        else fig.error(`trial ${trial}: delete() with deletes failing ended ${outcome}`)
        const until = performance.now() + HOLD_READ_MS
        while (performance.now() < until && a.pendingInvalidations.keys > 0) {
          fig.requests++
          if ((await b.get(key)) === old)
            fig.violation(`trial ${trial}: B served ${key} = ${old} while A held its delete`)
          await sleep(20)
        }
        fault.deletes = false
        if (await eventually(async () => a.pendingInvalidations.keys === 0, 5_000)) replayed++
        if (!(await eventually(async () => (await b.get(key)) === undefined, 5_000)))
          fig.violation(`trial ${trial}: B still read ${key} 5 s after A replayed its delete`)
      }
      fig.set('deletes held / replayed', `${held} / ${replayed}`)

      expect(fig.errors).toBe(0)
      expect(fig.violations).toBe(0)
      expect(held).toBe(REORDER_TRIALS)
      expect(replayed).toBe(REORDER_TRIALS)
    },
  )
})
