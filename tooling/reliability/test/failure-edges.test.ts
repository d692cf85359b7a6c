// Issue 13, failure edges: how the packages behave when KeyDB refuses writes, and when close() meets a
// refresh that never ends.
import { KeydbStore, type KeydbStoreOptions } from '@fastkey/fastify-cache'
import { holdEventLoop } from '@fastkey/test-services'
import { ReplyError } from 'ioredis'
import { beforeAll, describe, expect } from 'vitest'
import {
  adminClient,
  buildApp,
  FAST,
  failFastClient,
  keydbEngine,
  namespaceKeys,
  sharedRedisNamespace,
} from '../src/apps.js'
import { deferred, expectOk, load, type Shot, shoot, sleep } from '../src/load.js'
import { Origin } from '../src/origin.js'
import { scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

/**
 * What KeyDB 6.3.4 answers when a write inside a script is refused (checked against a real server):
 * the refusal is wrapped in the script error, where Redis 7 answers `OOM ...` / `READONLY ...` itself.
 */
const KEYDB_REFUSALS = {
  oom: "ERR Error running script (call to f_3c1d2c8e0f8a1b0b4f6d9e1a2b3c4d5e6f708192): @user_script:1: @user_script: 1: -OOM command not allowed when used memory > 'maxmemory'.",
  readonly:
    "ERR Error running script (call to f_3c1d2c8e0f8a1b0b4f6d9e1a2b3c4d5e6f708192): @user_script:1: @user_script: 1: -READONLY You can't write against a read only replica.",
} as const

/** A KeyDB store whose writes (fill lock, conditional write, generation) are refused as KeyDB refuses them. */
class RefusingStore extends KeydbStore {
  refusal: string | undefined
  refused = 0

  constructor(options: KeydbStoreOptions) {
    super(options)
  }

  #refuse(): void {
    if (this.refusal === undefined) return
    this.refused++
    throw new ReplyError(this.refusal)
  }

  override async set(...args: Parameters<KeydbStore['set']>) {
    this.#refuse()
    return super.set(...args)
  }

  override async acquireLock(...args: Parameters<KeydbStore['acquireLock']>) {
    this.#refuse()
    return super.acquireLock(...args)
  }

  override async generation(...args: Parameters<KeydbStore['generation']>) {
    this.#refuse()
    return super.generation(...args)
  }
}

const CACHED = 10
const KEYS = 40
const REQUESTS = 200

function keydbRefusalScenario(kind: keyof typeof KEYDB_REFUSALS): void {
  scenario(
    {
      id: `keydb-refuses-writes-${kind}`,
      area: 'server',
      title: `KeyDB's wrapped ${kind === 'oom' ? 'OOM' : 'READONLY'} refusal`,
      did: `${CACHED} keys filled; then every write the store makes (fill lock, conditional write, generation) is refused with KeyDB's exact script error (\`ERR Error running script (call to f_…): @user_script:1: @user_script: 1: -${kind === 'oom' ? 'OOM' : 'READONLY'} …\`); ${REQUESTS} requests (10 concurrent) over ${KEYS} keys`,
      criterion:
        'reads keep hitting the cached keys (every read of them a HIT) and the circuit stays closed: a refused write is not a store failure; 0 non-2xx',
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, `refuse-${kind}`)
      const store = new RefusingStore({
        client: await failFastClient(ctx, url),
        keyPrefix: namespace,
        commandTimeoutMs: FAST.commandTimeoutMs,
      })
      ctx.defer(() => store.close())
      const origin = new Origin(fig, 5)
      const app = await buildApp(ctx, {
        keydb: { url },
        cache: { store },
        routes: (app) => origin.route(app),
      })
      const circuit: string[] = []
      app.cache.events.on('circuit', (e) => void circuit.push(e.state))
      expectOk(fig, await load(CACHED, 1, (i) => shoot(app, `/items/${i}`, fig)), 'fill')
      await app.cache.drain()
      store.refusal = KEYDB_REFUSALS[kind]
      const shots = await load(REQUESTS, 10, (i) => shoot(app, `/items/${i % KEYS}`, fig))
      expectOk(fig, shots, 'writes refused')
      await app.cache.drain()
      const cachedReads = shots.filter((_, i) => i % KEYS < CACHED)
      const cachedHits = cachedReads.filter((s) => s.xCache === 'HIT').length
      fig.set(`HITs of the ${CACHED} cached keys`, `${cachedHits}/${cachedReads.length}`)
      fig.set('writes refused', store.refused)
      fig.set('circuit transitions', circuit.join(' > ') || 'none')
      fig.set('origin calls for the refused keys', origin.calls - CACHED)

      expect(fig.errors).toBe(0)
      expect(store.refused).toBeGreaterThan(0)
      expect(circuit).toEqual([])
      expect(cachedHits).toBe(cachedReads.length)
    },
  )
}

/** What close() may take with a refresh stuck in the origin: a drain deadline of at most 2 s, plus margin. */
const CLOSE_BOUND_MS = 3_000
/** How long the scenario waits for close() before it gives up (and lets the origin answer). */
const CLOSE_GIVE_UP_MS = 5_000

/** Resolves how long `closing` took, or undefined if it was still pending after `ms`. */
async function timed(closing: Promise<unknown>, ms: number): Promise<number | undefined> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const done = await Promise.race([
    closing.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    }),
  ])
  clearTimeout(timer)
  return done ? performance.now() - started : undefined
}

function stuckRefreshScenario(): void {
  scenario(
    {
      id: 'close-with-stuck-refresh',
      area: 'faults',
      title: 'app.close() while a background refresh hangs in the origin',
      did: `a route (ttlMs 200, staleWhileRevalidateMs 10 s) and a service getOrSet with the same windows, each filled with v1 and left to go stale; the origin then hangs; one stale read each (served STALE, a background refresh starts and hangs); then app.close() and cache.close(); ${CLOSE_GIVE_UP_MS / 1_000} s later the origin answers v2`,
      criterion: `close() resolves within ${CLOSE_BOUND_MS} ms (a documented drain deadline) for the route app and the engine; the refresh is abandoned safely: its lock is released by the time close() resolves, and nothing it loads afterwards is stored (the entry still holds v1 once the origin answers)`,
      timeoutMs: 60_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, 'closestuck')
      const admin = await adminClient(ctx, url)
      let version = 1
      const hang = deferred()
      let hanging = false
      const originOnce = async () => {
        fig.origin()
        const seen = version
        if (hanging) await hang.promise
        return { version: seen }
      }
      const windows = { ttlMs: 200, staleWhileRevalidateMs: 10_000 }
      const app = await buildApp(ctx, {
        keydb: { url },
        cache: { keyPrefix: namespace },
        routes: (app) => app.get('/stuck', { config: { cache: windows } }, originOnce),
      })
      const svcNamespace = `${namespace}-svc`
      const cache = keydbEngine(ctx, await failFastClient(ctx, url), svcNamespace)
      await cache.ready()
      await shoot(app, '/stuck', fig)
      await cache.getOrSet('stuck', originOnce, windows)
      await app.cache.drain()
      await cache.drain()
      await sleep(300) // both entries are stale now
      version = 2
      hanging = true
      const stale = await shoot(app, '/stuck', fig)
      fig.requests++
      const staleValue = (await cache.getOrSet('stuck', originOnce, windows)) as { version: number }
      await sleep(50) // both refreshes are in the origin
      const locksBefore =
        (await namespaceKeys(admin, namespace, 'l')).length +
        (await namespaceKeys(admin, svcNamespace, 'l')).length

      const appClosing = app.close()
      const engineClosing = cache.close()
      const [appCloseMs, engineCloseMs] = await Promise.all([
        timed(appClosing, CLOSE_GIVE_UP_MS),
        timed(engineClosing, CLOSE_GIVE_UP_MS),
      ])
      // Counted once both resolved (or at the give-up time, before the 10 s lock ttl ends).
      const locksAfterClose =
        (await namespaceKeys(admin, namespace, 'l')).length +
        (await namespaceKeys(admin, svcNamespace, 'l')).length
      hang.resolve() // the origin answers at last
      await Promise.all([appClosing, engineClosing])
      await sleep(200)
      const stored = async (ns: string) => {
        const keys = await namespaceKeys(admin, ns, 'e')
        const values = await Promise.all(keys.map((k) => admin.getBuffer(k)))
        return values.some((v) => v?.includes('"version":2'))
      }
      const storedAfterClose = (await stored(namespace)) || (await stored(svcNamespace))
      fig.set('stale reads served', `${stale.xCache} / v${staleValue.version}`)
      fig.set(
        'app.close() ms',
        appCloseMs === undefined ? `still pending after ${CLOSE_GIVE_UP_MS}` : Math.round(appCloseMs),
      )
      fig.set(
        'cache.close() ms',
        engineCloseMs === undefined ? `still pending after ${CLOSE_GIVE_UP_MS}` : Math.round(engineCloseMs),
      )
      fig.set(
        'refresh locks held before close / once close resolved (or gave up)',
        `${locksBefore} / ${locksAfterClose}`,
      )
      fig.set('v2 stored after close', storedAfterClose)

      expect(stale.xCache).toBe('STALE')
      expect(staleValue.version).toBe(1)
      expect(locksBefore).toBe(2) // both refreshes really hold their lock
      expect(appCloseMs).toBeDefined()
      expect(engineCloseMs).toBeDefined()
      expect(Math.max(appCloseMs!, engineCloseMs!)).toBeLessThanOrEqual(CLOSE_BOUND_MS)
      expect(locksAfterClose).toBe(0)
      expect(storedAfterClose).toBe(false)
    },
  )
}

const HOLD_MS = 1_200
const HOLDS = 3
const CLIENTS = 5

function heldLoopScenario(): void {
  scenario(
    {
      id: 'held-event-loop-alone',
      area: 'faults',
      title: 'An instance alone whose event loop is held: not a deaf bus, not a slow KeyDB',
      did: `one instance alone on its KeyDB namespace, L1 on (l1.ttlMs 60 s), one entry in its L1 read every 50 ms; ${CLIENTS} sequential clients on distinct keys (store calls always on the wire); ${HOLDS} times a handler holds the event loop for ${HOLD_MS.toLocaleString('en')} ms (synchronous work), 400 ms apart`,
      criterion: `no error reported and the circuit stays closed: no bus silence (nothing could be said while the loop was held, this instance's own heartbeats included) and no store timeout or slow call, from the cache's deadline or fastify-keydb's (the replies were in the socket in time, behind the held loop); the L1 entry is served from L1 throughout (L1 stays on); every request 200. Held to ${(HOLD_MS + 300).toLocaleString('en')} ms of event-loop delay: the hold itself`,
      eventLoopLimitMs: HOLD_MS + 300,
    },
    async (ctx) => {
      const { fig } = ctx
      const origin = new Origin(fig, 2)
      const { url, namespace } = await sharedRedisNamespace(ctx, 'held-loop')
      const app = await buildApp(ctx, {
        // fastify-keydb's command deadline (500 ms), the cache's (150 ms) and the bus's silence bound
        // (700 ms) are all shorter than the hold.
        keydb: { url },
        cache: { keyPrefix: namespace, l1: { maxEntries: 1_000, ttlMs: 60_000 } },
        routes: (app) => {
          origin.route(app, { ttlMs: 60_000 })
          app.get('/hold', () => {
            holdEventLoop(HOLD_MS)
            return { held: HOLD_MS }
          })
        },
      })
      const reported: string[] = []
      app.cache.events.on('error', (e) =>
        reported.push(`${e.operation}: ${(e.error as { code?: string }).code ?? String(e.error)}`),
      )
      app.cache.events.on('circuit', (e) => reported.push(`circuit ${e.state}`))
      expect((await shoot(app, '/items/hot', fig)).xCache).toBe('MISS')
      expect((await shoot(app, '/items/hot', fig)).xCache).toBe('HIT') // from KeyDB: now in L1 too
      const tiers = new Map<string, number>()
      app.cache.events.on('hit', (e) => {
        if (e.key.endsWith(':hot|')) tiers.set(e.tier, (tiers.get(e.tier) ?? 0) + 1)
      })

      let running = true
      const shots: Shot[] = []
      let spanningHolds = 0
      let holding: { from: number; to: number } | undefined
      const client = async (c: number) => {
        for (let i = 0; running; i++) {
          const started = performance.now()
          shots.push(await shoot(app, `/items/c${c}-${i}`, fig))
          if (holding && started < holding.from && performance.now() > holding.to) spanningHolds++
        }
      }
      const reader = async () => {
        while (running) {
          shots.push(await shoot(app, '/items/hot', fig))
          await sleep(50)
        }
      }
      const clients = [reader(), ...Array.from({ length: CLIENTS }, (_, c) => client(c))]
      await sleep(200)
      for (let h = 0; h < HOLDS; h++) {
        const from = performance.now()
        shots.push(await shoot(app, '/hold', fig))
        holding = { from, to: performance.now() }
        await sleep(400)
      }
      running = false
      await Promise.all(clients)

      fig.set('requests spanning a hold (started before, answered after)', spanningHolds)
      fig.set('hot entry hits from L1 / from KeyDB', `${tiers.get('l1') ?? 0} / ${tiers.get('store') ?? 0}`)
      fig.set('errors and circuit changes reported', reported.length)
      expectOk(fig, shots, 'held loop')
      expect(fig.details).toEqual([])
      // The clients were mid-request when a hold began: their store calls were on the wire.
      expect(spanningHolds).toBeGreaterThanOrEqual(HOLDS)
      expect(reported).toEqual([])
      expect(tiers.get('store') ?? 0).toBe(0)
      expect(tiers.get('l1') ?? 0).toBeGreaterThan(HOLDS)
    },
  )
}

describe('issue 13: failure edges', () => {
  beforeAll(warmUp)

  keydbRefusalScenario('oom')
  keydbRefusalScenario('readonly')
  stuckRefreshScenario()
  heldLoopScenario()
})
