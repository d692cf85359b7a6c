import { KeydbStore } from '@fastkey/fastify-cache'
import { type RedisProcess, startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { buildApp, get, ourGlobalMetrics, P, scrape, sleep } from './helpers.js'

afterEach(() => {
  expect(ourGlobalMetrics()).toEqual([])
})

/** A throwaway redis-server and a client that fails fast while it is down (no offline queue). */
async function throwaway(): Promise<{ server: RedisProcess; client: Redis; store: KeydbStore }> {
  const server = await startRedisServer()
  const client = new Redis(server.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  })
  client.on('error', () => {})
  await client.connect()
  const store = new KeydbStore({ client, keyPrefix: 'metrics', commandTimeoutMs: 100 })
  onTestFinished(async () => {
    server.resume()
    await server.stop()
    client.disconnect()
  })
  return { server, client, store }
}

const routes = (app: import('fastify').FastifyInstance) =>
  app.get('/items/:id', { config: { cache: {} } }, async (req) => ({ id: (req.params as { id: string }).id }))

describe('KeyDB failures', () => {
  it('killed: read errors by operation, the circuit gauge goes to open (2)', async () => {
    const { server, client, store } = await throwaway()
    const { app } = await buildApp({
      store,
      cache: { breaker: { failureThreshold: 2, cooldownMs: 60_000 } },
      routes,
    })
    expect((await get(app, '/items/1')).headers['x-cache']).toBe('MISS')
    expect((await scrape(app)).value(`${P}circuit_state`)).toBe(0)

    await server.kill()
    // Wait until the client has seen the connection drop: commands then fail at once (no deadline).
    const deadline = performance.now() + 5_000
    while (client.status === 'ready' && performance.now() < deadline) await sleep(5)
    for (const id of [2, 3, 4, 5]) expect((await get(app, `/items/${id}`)).statusCode).toBe(200)

    const m = await scrape(app)
    // Two failed reads open the circuit; the next requests skip KeyDB entirely.
    expect(m.value(`${P}store_errors_total`, { operation: 'read' })).toBe(2)
    expect(m.series(`${P}store_timeouts_total`)).toEqual({})
    expect(m.value(`${P}circuit_state`)).toBe(2)
    expect(m.series(`${P}circuit_transitions_total`)).toEqual({ 'state=open': 1 })
    expect(m.series(`${P}misses_total`)).toEqual({ 'route=/items/:id': 5 })
  })

  it('frozen: timeouts by operation, counted apart from errors', async () => {
    const { server, store } = await throwaway()
    const { app } = await buildApp({
      store,
      cache: { breaker: { failureThreshold: 2, cooldownMs: 60_000 } },
      routes,
    })
    await get(app, '/items/1')
    await server.pause()
    for (const id of [2, 3, 4]) expect((await get(app, `/items/${id}`)).statusCode).toBe(200)

    const m = await scrape(app)
    expect(m.series(`${P}store_timeouts_total`)).toEqual({ 'operation=read': 2 })
    expect(m.value(`${P}store_errors_total`, { operation: 'read' })).toBeUndefined()
    expect(m.value(`${P}circuit_state`)).toBe(2)
  })

  it('an invalidation KeyDB could not take: the pending gauge counts it until it is replayed', async () => {
    const { server, client, store } = await throwaway()
    const { app } = await buildApp({ store, routes })
    await get(app, '/items/1')
    await server.kill()
    const deadline = performance.now() + 5_000
    while (client.status === 'ready' && performance.now() < deadline) await sleep(5)
    await expect(app.cache.delete(['a', 'b'])).rejects.toMatchObject({
      code: 'FST_CACHE_INVALIDATION_PENDING',
    })
    let m = await scrape(app)
    expect(m.series(`${P}invalidations_pending`)).toEqual({ 'kind=keys': 2, 'kind=tags': 0, 'kind=clear': 0 })
    await server.restart()
    for (let i = 0; i < 250 && app.cache.pendingInvalidations.keys > 0; i++) await sleep(20)
    m = await scrape(app)
    expect(m.series(`${P}invalidations_pending`)).toEqual({ 'kind=keys': 0, 'kind=tags': 0, 'kind=clear': 0 })
  })
})
