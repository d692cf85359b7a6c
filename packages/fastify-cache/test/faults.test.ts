import { fastifyKeydb } from '@fastkey/fastify-keydb'
import { type RedisProcess, startRedisServer } from '@fastkey/test-services'
import Fastify, { type FastifyInstance } from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fastifyCache } from '../src/index.js'
import { sleep } from './helpers.js'

const ORIGIN_MS = 20
const STORE_DEADLINE_MS = 200 // the plugin's documented default `commandTimeoutMs`
// Timers and the event loop on a shared 2-core CI machine: a margin, not a tolerance for a second deadline.
const SLACK_MS = 120

async function appOn(server: RedisProcess): Promise<{ app: FastifyInstance; origin: { calls: number } }> {
  const origin = { calls: 0 }
  const app = Fastify()
  await app.register(fastifyKeydb, { url: server.url })
  await app.register(fastifyCache, {
    defaults: { ttlMs: 60_000 },
    breaker: { failureThreshold: 5, cooldownMs: 300 },
  })
  app.get('/items/:id', { config: { cache: {} } }, async (req) => {
    origin.calls++
    await sleep(ORIGIN_MS)
    return { id: (req.params as { id: string }).id }
  })
  onTestFinished(() => app.close())
  await app.ready()
  return { app, origin }
}

/** Sends `count` requests, `concurrency` at a time, over `ids` keys; returns status and latency of each. */
async function load(app: FastifyInstance, count: number, concurrency: number, ids: number) {
  const results: Array<{ status: number; ms: number; xCache: string }> = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++
        const started = performance.now()
        const r = await app.inject(`/items/${i % ids}`)
        results.push({
          status: r.statusCode,
          ms: performance.now() - started,
          xCache: String(r.headers['x-cache']),
        })
      }
    }),
  )
  return results
}

async function waitForHit(app: FastifyInstance, url: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if ((await app.inject(url)).headers['x-cache'] === 'HIT') return true
    await sleep(100)
  }
  return false
}

describe('KeyDB failures never fail a request (invariant 3)', () => {
  for (const fault of ['killed', 'paused'] as const) {
    it(`KeyDB ${fault} mid-load: every request answers from the origin within deadline + origin time, caching resumes after`, async () => {
      const server = await startRedisServer()
      onTestFinished(() => server.stop())
      const { app, origin } = await appOn(server)
      await app.cache.ready()
      const circuit: string[] = []
      app.cache.events.on('circuit', (e) => circuit.push(e.state))

      const warm = await load(app, 100, 10, 20)
      expect(warm.every((r) => r.status === 200)).toBe(true)
      expect(warm.filter((r) => r.xCache === 'HIT').length).toBeGreaterThan(50)

      const during = load(app, 400, 10, 40)
      await sleep(20)
      if (fault === 'killed') await server.kill()
      else await server.pause()
      const results = await during
      const callsDuringOutage = origin.calls

      expect(results.filter((r) => r.status !== 200)).toEqual([])
      const slowest = Math.max(...results.map((r) => r.ms))
      expect(slowest).toBeLessThan(STORE_DEADLINE_MS + ORIGIN_MS + SLACK_MS)
      expect(circuit).toContain('open')
      expect(callsDuringOutage).toBeGreaterThan(20) // keys 20..39 were never cached: the origin served them

      if (fault === 'killed') await server.restart()
      else server.resume()
      // No app restart: the client reconnects and the breaker closes by itself.
      await app.inject('/items/1000')
      expect(await waitForHit(app, '/items/1000', 10_000)).toBe(true)
      expect(app.cache.circuitState).toBe('closed')
    })
  }

  it('KeyDB down at boot: the app starts, serves from the origin, and caches once KeyDB appears', async () => {
    const server = await startRedisServer()
    onTestFinished(() => server.stop())
    await server.kill()
    const started = performance.now()
    const { app } = await appOn(server)
    expect(performance.now() - started).toBeLessThan(3_000)
    const r = await app.inject('/items/1')
    expect(r.statusCode).toBe(200)
    await server.restart()
    await app.inject('/items/2')
    expect(await waitForHit(app, '/items/2', 10_000)).toBe(true)
  })
})
