import Fastify from 'fastify'
import type { Registry as PromRegistry } from 'prom-client'
import { Registry } from 'prom-client'
import { describe, expectTypeOf, it } from 'vitest'
import fastifyCacheMetrics, { type CacheMetrics, type FastifyCacheMetricsOptions } from '../src/index.js'

describe('types', () => {
  it('types the options and decorates fastify.cacheMetrics', async () => {
    const app = Fastify()
    await app.register(fastifyCacheMetrics, {
      registry: new Registry(),
      prefix: 'shop_cache_',
      exposeRoute: { path: '/internal/metrics' },
      buckets: { lockWait: [0.01, 0.1, 1], load: [0.05, 0.5, 5] },
      keyGroup: (key) => key.split(':')[0] ?? 'other',
    })
    await app.register(fastifyCacheMetrics, { exposeRoute: false })
    expectTypeOf(app.cacheMetrics).toEqualTypeOf<CacheMetrics>()
    expectTypeOf(app.cacheMetrics.registry).toEqualTypeOf<PromRegistry>()
    expectTypeOf(app.cacheMetrics.path).toEqualTypeOf<string | undefined>()

    // @ts-expect-error a typo in an option does not compile
    const typo: FastifyCacheMetricsOptions = { prefx: 'x_' }
    void typo
    // @ts-expect-error keyGroup returns the label value, a string
    const group: FastifyCacheMetricsOptions = { keyGroup: (key: string) => key.length }
    void group
    // @ts-expect-error buckets are arrays of seconds
    const buckets: FastifyCacheMetricsOptions = { buckets: { load: 0.5 } }
    void buckets
  })
})
