import { fastifyKeydb } from '@fastkey/fastify-keydb'
import { redisUrl, uniquePrefix } from '@fastkey/test-services'
import Fastify from 'fastify'
import { expect, it, onTestFinished } from 'vitest'
import { fastifyCache } from '../src/index.js'

// The bench's stampede (1,000 requests for one cold key) made 2 origin calls on one process and up
// to 6 on three: the burst kept this process's event loop busy, replies waited on it past
// slowCallMs, the circuit opened on a healthy KeyDB, and later requests went to the origin.

const REQUESTS = 2_000
const PER_MS = 10
const ORIGIN_MS = 50

it('a burst that saturates this process does not count as a slow KeyDB: one origin call, circuit closed', async () => {
  const app = Fastify()
  await app.register(fastifyKeydb, { url: await redisUrl() })
  await app.register(fastifyCache, { keyPrefix: uniquePrefix('busy').slice(0, -1), l1: false })
  let calls = 0
  app.get('/item/:id', { config: { cache: { ttlMs: 60_000 } } }, async (req) => {
    calls++
    await new Promise((resolve) => setTimeout(resolve, ORIGIN_MS))
    return { id: (req.params as { id: string }).id }
  })
  onTestFinished(() => app.close())
  await app.ready()
  await app.cache.ready()
  const slow: string[] = []
  const circuit: string[] = []
  // The bus included: a loop this busy delays this instance's own heartbeats too, and silence it
  // caused itself is not a deaf subscription (it once was, on a loaded machine).
  app.cache.events.on('error', (e) =>
    slow.push(`${e.operation}: ${(e.error as { code?: string }).code ?? String(e.error)}`),
  )
  app.cache.events.on('circuit', (e) => circuit.push(e.state))
  const started = performance.now()
  const statuses = await Promise.all(
    Array.from(
      { length: REQUESTS },
      (_, i) =>
        new Promise<number>((resolve) =>
          setTimeout(() => resolve(app.inject('/item/1').then((r) => r.statusCode)), Math.floor(i / PER_MS)),
        ),
    ),
  )
  const tookMs = performance.now() - started
  expect(statuses.every((s) => s === 200)).toBe(true)
  // The burst outlasted the origin call: requests kept arriving after the fill was stored.
  expect(tookMs).toBeGreaterThan(ORIGIN_MS * 2)
  expect(slow).toEqual([])
  expect(circuit).toEqual([])
  expect(calls).toBe(1)
})
