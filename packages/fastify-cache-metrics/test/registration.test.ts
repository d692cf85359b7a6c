import { Cache, fastifyCache } from '@fastkey/fastify-cache'
import Fastify from 'fastify'
import { Counter, Registry, register } from 'prom-client'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { fastifyCacheMetrics, METRIC_NAMES } from '../src/index.js'
import { buildApp, ourGlobalMetrics, P, scrape } from './helpers.js'

afterEach(() => {
  expect(ourGlobalMetrics()).toEqual([])
})

async function appWithCache() {
  const app = Fastify()
  onTestFinished(() => app.close())
  await app.register(fastifyCache)
  return app
}

async function registrationError(register: () => PromiseLike<unknown>): Promise<string | undefined> {
  try {
    await register()
  } catch (error) {
    return (error as { code?: string }).code
  }
  return undefined
}

describe('registration', () => {
  it('registering twice on one app is FST_CACHE_METRICS_ALREADY_REGISTERED', async () => {
    const app = await appWithCache()
    await app.register(fastifyCacheMetrics, { registry: new Registry() })
    const code = await registrationError(() =>
      app.register(fastifyCacheMetrics, { registry: new Registry(), exposeRoute: false }),
    )
    expect(code).toBe('FST_CACHE_METRICS_ALREADY_REGISTERED')
  })

  it('a registry that already has one of the names is FST_CACHE_METRICS_NAME_TAKEN, and gets nothing added', async () => {
    const registry = new Registry()
    new Counter({ name: `${P}misses_total`, help: 'mine', registers: [registry] })
    const app = await appWithCache()
    const code = await registrationError(() => app.register(fastifyCacheMetrics, { registry }))
    expect(code).toBe('FST_CACHE_METRICS_NAME_TAKEN')
    expect(registry.getMetricsAsArray()).toHaveLength(1)
  })

  it('two apps on one registry collide; another prefix, or closing the first app, frees the way', async () => {
    const registry = new Registry()
    const first = await buildApp({ metrics: { registry } })
    const second = await appWithCache()
    expect(await registrationError(() => second.register(fastifyCacheMetrics, { registry }))).toBe(
      'FST_CACHE_METRICS_NAME_TAKEN',
    )
    await buildApp({ metrics: { registry, prefix: 'other_' } })
    expect(registry.getSingleMetric('other_hits_total')).toBeDefined()

    await first.app.close()
    expect(registry.getSingleMetric(`${P}hits_total`)).toBeUndefined()
    const third = await buildApp({ metrics: { registry } })
    expect((await scrape(third.app)).value(`${P}circuit_state`)).toBe(0)
  })

  it('needs @fastkey/fastify-cache registered first', async () => {
    const app = Fastify()
    onTestFinished(() => app.close())
    const code = await registrationError(async () => {
      await app.register(fastifyCacheMetrics, { registry: new Registry() })
      await app.ready()
    })
    expect(code).toBe('FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED')
  })

  const invalid: Array<[string, unknown]> = [
    ['not an object', 'yes'],
    ['unknown option', { registy: new Registry() }],
    ['registry not a Registry', { registry: {} }],
    ['prefix with a dash', { prefix: 'my-app_' }],
    ['prefix starting with a digit', { prefix: '1x_' }],
    ['exposeRoute a string', { exposeRoute: '/metrics' }],
    ['exposeRoute.path without a slash', { exposeRoute: { path: 'metrics' } }],
    ['exposeRoute unknown key', { exposeRoute: { url: '/m' } }],
    ['buckets not an object', { buckets: [0.1] }],
    ['buckets unknown key', { buckets: { lock: [0.1] } }],
    ['buckets not increasing', { buckets: { load: [0.1, 0.05] } }],
    ['buckets empty', { buckets: { lockWait: [] } }],
    ['buckets negative', { buckets: { lockWait: [-1, 1] } }],
    ['buckets infinite', { buckets: { load: [1, Number.POSITIVE_INFINITY] } }],
    ['keyGroup not a function', { keyGroup: 'user' }],
  ]
  it.each(invalid)('bad option (%s) is FST_CACHE_METRICS_INVALID_OPTION', async (_name, options) => {
    const app = await appWithCache()
    const code = await registrationError(() => app.register(fastifyCacheMetrics, options as never))
    expect(code).toBe('FST_CACHE_METRICS_INVALID_OPTION')
  })

  it('exposeRoute: default /metrics, a custom path, or none; the decorator names the registry', async () => {
    const registry = new Registry()
    const { app } = await buildApp({ metrics: { registry } })
    expect(app.cacheMetrics.registry).toBe(registry)
    expect(app.cacheMetrics.path).toBe('/metrics')
    expect(app.cacheMetrics.names).toEqual(METRIC_NAMES.map((name) => P + name))

    const custom = await buildApp({ metrics: { exposeRoute: { path: '/internal/metrics' } } })
    expect((await scrape(custom.app, '/internal/metrics')).value(`${P}l1_entries`)).toBe(0)
    expect((await custom.app.inject('/metrics')).statusCode).toBe(404)

    const none = await buildApp({ metrics: { exposeRoute: false } })
    expect(none.app.cacheMetrics.path).toBeUndefined()
    expect((await none.app.inject('/metrics')).statusCode).toBe(404)
    // The app serves the registry itself.
    expect(await none.registry.metrics()).toContain(`${P}hits_total`)
  })

  it('a path the app already serves fails registration and leaves the registry empty', async () => {
    const app = await appWithCache()
    app.get('/metrics', async () => 'mine')
    const registry = new Registry()
    const code = await registrationError(() => app.register(fastifyCacheMetrics, { registry }))
    expect(code).toBe('FST_ERR_DUPLICATED_ROUTE')
    expect(registry.getMetricsAsArray()).toEqual([])
    expect(app.cache.events.has('hit')).toBe(false)
  })

  it('defaults to the global registry and leaves it as it found it on close', async () => {
    const app = await appWithCache()
    await app.register(fastifyCacheMetrics, { exposeRoute: false })
    await app.ready()
    expect(app.cacheMetrics.registry).toBe(register)
    expect(register.getSingleMetric(`${P}hits_total`)).toBeDefined()
    await app.close()
    expect(ourGlobalMetrics()).toEqual([])
  })

  it('unsubscribes from the engine on close (an engine shared with other code keeps no listener)', async () => {
    const cache = new Cache()
    onTestFinished(() => cache.close())
    const app = Fastify()
    await app.register(fastifyCache, { cache })
    await app.register(fastifyCacheMetrics, { registry: new Registry() })
    await app.ready()
    expect(cache.events.has('hit')).toBe(true)
    await app.close()
    for (const name of ['hit', 'miss', 'stale', 'bypass', 'skip', 'set', 'lockWait', 'load'] as const)
      expect(cache.events.has(name)).toBe(false)
    for (const name of ['error', 'circuit', 'invalidate', 'delete'] as const)
      expect(cache.events.has(name)).toBe(false)
  })
})
