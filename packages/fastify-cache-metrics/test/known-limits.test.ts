// What the README's "Known limits" section says, checked against the engine's events as they are.

import { fastifyCache, KeydbStore, MemoryStore } from '@fastkey/fastify-cache'
import { busOf } from '@fastkey/fastify-cache/testing'
import { startRedisServer, uniquePrefix } from '@fastkey/test-services'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { fastifyCacheMetrics } from '../src/index.js'
import { buildApp, get, keydbStore, ourGlobalMetrics, P, scrape, sleep } from './helpers.js'

afterEach(() => {
  expect(ourGlobalMetrics()).toEqual([])
})

describe('README known limits', () => {
  it('route loads are timed, under the route pattern and their result', async () => {
    const { app } = await buildApp({
      routes(app) {
        app.get('/slow/:id', { config: { cache: {} } }, async (req) => {
          await sleep(30)
          return { id: (req.params as { id: string }).id }
        })
        app.get('/broken', { config: { cache: {} } }, async (_req, reply) => reply.code(503).send('down'))
      },
    })
    await get(app, '/slow/1')
    await get(app, '/slow/1') // a hit: no load
    await get(app, '/slow/2')
    await get(app, '/broken')
    const m = await scrape(app)
    expect(m.series(`${P}load_duration_seconds_count`)).toEqual({
      'result=ok,route=/slow/:id': 2,
      'result=error,route=/broken': 1,
    })
    expect(m.value(`${P}load_duration_seconds_sum`, { route: '/slow/:id', result: 'ok' })).toBeGreaterThan(
      0.05,
    )
  })

  it("a route's stale-while-revalidate refresh is counted under its route, not under service", async () => {
    let now = 1_000_000
    let version = 1
    const { app } = await buildApp({
      store: new MemoryStore({ now: () => now }),
      routes(app) {
        app.get(
          '/swr',
          { config: { cache: { ttlMs: 1_000, staleWhileRevalidateMs: 60_000 } } },
          async () => ({
            version: version++,
          }),
        )
      },
    })
    const bytes: number[] = []
    app.cache.events.on('set', (e) => {
      if (e.written) bytes.push(e.bytes)
    })
    await get(app, '/swr')
    now += 1_500
    expect((await get(app, '/swr')).headers['x-cache']).toBe('STALE') // get() drains the refresh
    expect(bytes).toHaveLength(2)
    const m = await scrape(app)
    expect(m.series(`${P}stored_bytes_total`)).toEqual({ 'route=/swr': bytes[0]! + bytes[1]! })
    expect(m.series(`${P}load_duration_seconds_count`)).toEqual({ 'result=ok,route=/swr': 2 })
  })

  it('a KeyDB outage adds nothing to store_errors_total{operation="bus"}: the subscriber resubscribes by itself', async () => {
    const server = await startRedisServer()
    onTestFinished(() => server.stop())
    const client = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    })
    client.on('error', () => {})
    await client.connect()
    const store = new KeydbStore({ client, keyPrefix: uniquePrefix('bus').slice(0, -1) })
    onTestFinished(async () => {
      await store.close()
      client.disconnect()
    })
    const { app } = await buildApp({ store })
    await server.kill()
    const down = performance.now()
    while (busOf(app.cache).healthy && performance.now() - down < 2_000) await sleep(10)
    expect(busOf(app.cache).healthy).toBe(false)
    await sleep(500) // several reconnect attempts of the subscriber
    await server.restart()
    const back = performance.now()
    while (!busOf(app.cache).healthy && performance.now() - back < 5_000) await sleep(20)
    expect(busOf(app.cache).healthy).toBe(true)
    const m = await scrape(app)
    expect(m.value(`${P}store_errors_total`, { operation: 'bus' })).toBeUndefined()
  })

  it('store_errors_total{operation="bus"} counts an error thrown while a bus message is handled', async () => {
    const { store } = await keydbStore()
    const { app } = await buildApp({ store })
    // An extension's listener (the bus is open to them) that fails on a message.
    busOf(app.cache).on('x', () => {
      throw new Error('cannot handle this message')
    })
    await busOf(app.cache).publish('x', 'payload', 1_000) // resolves once this instance heard its echo
    const m = await scrape(app)
    expect(m.value(`${P}store_errors_total`, { operation: 'bus' })).toBe(1)
  })

  it('a bus that cannot start is not counted: it fails when the engine is created, before the plugin listens', async () => {
    const client = new Redis({ lazyConnect: true })
    onTestFinished(() => client.disconnect())
    const store = new KeydbStore({
      client,
      keyPrefix: uniquePrefix('bus-fail').slice(0, -1),
      subscriber: () => {
        throw new Error('no pub/sub connection')
      },
    })
    const app = Fastify({ logger: false })
    onTestFinished(() => app.close())
    await app.register(fastifyCache, { store })
    await app.register(fastifyCacheMetrics, { registry: new Registry() })
    await app.ready()
    await sleep(20)
    expect(busOf(app.cache).healthy).toBe(false)
    const m = await scrape(app)
    expect(m.value(`${P}store_errors_total`, { operation: 'bus' })).toBeUndefined()
  })
})
