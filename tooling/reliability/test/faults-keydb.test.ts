import type { RedisProcess } from '@fastkey/test-services'
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect } from 'vitest'
import { adminClient, buildApp, FAST } from '../src/apps.js'
import { expectOk, httpGet, load, shoot, waitUntil } from '../src/load.js'
import { Origin } from '../src/origin.js'
import { type ScenarioContext, scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

const ORIGIN_MS = 20
// Scheduling margin on a shared 2-core machine (timers, the 100 ms event-loop budget); less than a
// second deadline (+150 ms) would need, so a request that waits on two deadlines fails the bound.
const SLACK_MS = 120
const LATENCY_BOUND_MS = FAST.commandTimeoutMs + ORIGIN_MS + SLACK_MS

async function itemsApp(ctx: ScenarioContext, server: RedisProcess, connectTimeoutMs?: number) {
  const origin = new Origin(ctx.fig, ORIGIN_MS)
  const app = await buildApp(ctx, {
    keydb: { url: server.url, ...(connectTimeoutMs && { connectTimeoutMs }) },
    // Booting without KeyDB: the app is ready when a user's would be, bus or not.
    waitForBus: connectTimeoutMs === undefined,
    cache: { defaults: { ttlMs: 60_000 } },
    routes: (app) => origin.route(app),
  })
  const circuit: string[] = []
  app.cache.events.on('circuit', (e) => circuit.push(e.state))
  return { app, origin, circuit }
}

/** Polls one URL until it answers a HIT; resolves the time it took (undefined = never). */
function untilHit(app: FastifyInstance, url: string, timeoutMs = 10_000) {
  return waitUntil(async () => (await shoot(app, url)).xCache === 'HIT', timeoutMs, 50)
}

type Fault = 'killed' | 'frozen' | 'paused'
const FAULTS: Record<Fault, { title: string; did: string }> = {
  killed: {
    title: 'KeyDB killed (SIGKILL) mid-load',
    did: '400 requests (10 concurrent, 40 keys, 20 warm) on one app; redis-server SIGKILLed 20 ms in; restarted after',
  },
  frozen: {
    title: 'KeyDB frozen (SIGSTOP) mid-load',
    did: 'same load; redis-server SIGSTOPped 20 ms in (connections stay open, commands hang); SIGCONT after',
  },
  paused: {
    title: 'KeyDB paused (CLIENT PAUSE ALL 1500 ms) mid-load',
    did: 'same load; `CLIENT PAUSE 1500 ALL` 20 ms in (every command, scripts included, waits); pause expires by itself',
  },
}

describe('KeyDB faults', () => {
  beforeAll(warmUp)

  for (const fault of Object.keys(FAULTS) as Fault[]) {
    scenario(
      {
        id: `keydb-${fault}-mid-load`,
        area: 'faults',
        title: FAULTS[fault].title,
        did: FAULTS[fault].did,
        criterion: `0 non-2xx; every request within commandTimeoutMs ${FAST.commandTimeoutMs} + origin ${ORIGIN_MS} + ${SLACK_MS} ms margin; breaker opens; HIT again after recovery without an app restart`,
      },
      async (ctx) => {
        const { fig } = ctx
        const server = await ctx.redis()
        const admin = fault === 'paused' ? await adminClient(ctx, server.url) : undefined
        const { app, circuit } = await itemsApp(ctx, server)

        const warm = await load(100, 10, (i) => shoot(app, `/items/${i % 20}`, fig))
        expectOk(fig, warm, 'warm-up')
        expect(warm.filter((s) => s.xCache === 'HIT').length).toBeGreaterThan(50)

        const during = load(400, 10, (i) => shoot(app, `/items/${i % 40}`, fig))
        await new Promise((r) => setTimeout(r, 20))
        if (fault === 'killed') await server.kill()
        else if (fault === 'frozen') await server.pause()
        else await admin!.client('PAUSE', 1_500, 'ALL')
        const shots = await during
        expectOk(fig, shots, 'during the fault')
        const slowest = Math.max(...shots.map((s) => s.latencyMs))
        fig.set('max latency during fault ms', slowest)
        fig.set('breaker opened', circuit.includes('open'))

        const recoverStarted = performance.now()
        if (fault === 'killed') await server.restart()
        else if (fault === 'frozen') server.resume()
        await shoot(app, '/items/1000', fig)
        const hitAfter = await untilHit(app, '/items/1000')
        if (hitAfter !== undefined) fig.set('first HIT after recovery ms', performance.now() - recoverStarted)

        expect(fig.details).toEqual([])
        expect(fig.errors).toBe(0)
        expect(slowest).toBeLessThan(LATENCY_BOUND_MS)
        expect(circuit).toContain('open')
        expect(hitAfter).toBeDefined()
        expect(app.cache.circuitState).toBe('closed')
      },
    )
  }

  scenario(
    {
      id: 'keydb-down-at-boot',
      area: 'faults',
      title: 'KeyDB down at boot',
      did: 'app booted with `connectTimeoutMs: 1000` (the default 2000 is the whole 2 s budget) and listening on a real port while nothing answers on the KeyDB port; 20 requests over HTTP; KeyDB started afterwards',
      criterion:
        'the app listens within 2 s and answers 200 from the origin; once KeyDB starts, caching resumes by itself (HIT) without an app restart',
    },
    async (ctx) => {
      const { fig } = ctx
      const server = await ctx.redis()
      await server.kill()
      const started = performance.now()
      const { app } = await itemsApp(ctx, server, 1_000)
      await app.listen({ port: 0, host: '127.0.0.1' })
      const listenMs = performance.now() - started
      fig.set('listening after ms', listenMs)
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

      const during = await load(20, 5, (i) => httpGet(`${base}/items/${i % 5}`, fig))
      expectOk(fig, during, 'KeyDB down')

      const upAt = performance.now()
      await server.restart()
      await httpGet(`${base}/items/77`, fig)
      const hit = await waitUntil(
        async () => (await httpGet(`${base}/items/77`, fig)).xCache === 'HIT',
        10_000,
        50,
      )
      if (hit !== undefined) fig.set('first HIT after KeyDB started ms', performance.now() - upAt)

      expect(fig.errors).toBe(0)
      expect(listenMs).toBeLessThan(2_000)
      expect(hit).toBeDefined()
    },
  )

  scenario(
    {
      id: 'keydb-require-on-boot',
      area: 'faults',
      title: 'KeyDB down at boot with requireOnBoot',
      did: 'fastify-keydb registered with `requireOnBoot: true` (default connectTimeoutMs 2000) while nothing answers on the port',
      criterion:
        'ready() rejects with FST_KEYDB_CONNECT_FAILED within connectTimeoutMs + 500 ms; the failed app closes at once',
    },
    async (ctx) => {
      const { fig } = ctx
      const server = await ctx.redis()
      await server.kill()
      const started = performance.now()
      let code: string | undefined
      try {
        await buildApp(ctx, { keydb: { url: server.url, requireOnBoot: true } })
      } catch (error) {
        code = (error as { code?: string }).code
      }
      const failedAfter = performance.now() - started
      fig.set('failed after ms', failedAfter)
      fig.set('error code', String(code))
      expect(code).toBe('FST_KEYDB_CONNECT_FAILED')
      expect(failedAfter).toBeLessThan(2_500)
    },
  )

  for (const state of ['killed', 'frozen'] as const) {
    scenario(
      {
        id: `keydb-close-${state}`,
        area: 'faults',
        title: `app.close() with KeyDB ${state}`,
        did: `app with cache, tags and the bus subscribed, traffic served; redis-server ${state === 'killed' ? 'SIGKILLed' : 'SIGSTOPped'}; then app.close()`,
        criterion: 'close() resolves within 2 s and leaves nothing running',
      },
      async (ctx) => {
        const { fig } = ctx
        const server = await ctx.redis()
        const origin = new Origin(fig, 1)
        const app = await buildApp(ctx, {
          keydb: { url: server.url },
          tags: true,
          routes: (a) => origin.route(a),
        })
        expectOk(fig, await load(20, 5, (i) => shoot(app, `/items/${i % 4}`, fig)), 'warm-up')
        if (state === 'killed') await server.kill()
        else await server.pause()
        // A request in flight while closing, too.
        const inFlight = shoot(app, '/items/9', fig)
        const started = performance.now()
        await app.close()
        const closeMs = performance.now() - started
        fig.set('close() ms', closeMs)
        expectOk(fig, [await inFlight], 'in flight during close')
        expect(closeMs).toBeLessThan(2_000)
        expect(fig.errors).toBe(0)
      },
    )
  }
})
