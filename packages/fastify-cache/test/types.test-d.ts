import { trace } from '@opentelemetry/api'
import Fastify, { type RouteShorthandOptions } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { type Cache, fastifyCache, type RouteCacheOptions } from '../src/index.js'
import { instrumentFastkeyCache } from '../src/opentelemetry/index.js'
import type { LOOKUP_CHANNEL, LookupTraceContext, TRACE_CHANNELS } from '../src/tracing/index.js'

describe('types', () => {
  it('decorates fastify.cache and types config.cache', async () => {
    const app = Fastify()
    await app.register(fastifyCache, { defaults: { ttlMs: 1000 }, l1: { maxEntries: 10 } })
    expectTypeOf(app.cache).toEqualTypeOf<Cache>()
    app.get(
      '/ok',
      {
        config: {
          cache: {
            ttlMs: 60_000,
            staleWhileRevalidateMs: 1_000,
            lock: { ttlMs: 5_000, waitMs: 1_000 },
            vary: ['accept-language'],
            key: (req) => req.url,
            tags: (_req, payload) => [String(payload)],
          },
        },
      },
      async () => 'x',
    )
    app.get('/off', { config: { cache: false } }, async () => 'x')
    // Route shorthands infer their config type from the argument, so typos are caught where route
    // options are typed (as with every Fastify route config), e.g. shared options objects:
    // @ts-expect-error a typo in a route option does not compile
    const typo: RouteShorthandOptions = { config: { cache: { tll: 1000 } } }
    void typo
    // @ts-expect-error ttlMs is a number of ms
    app.get('/str', { config: { cache: { ttlMs: '5m' } } }, async () => 'x')
    expectTypeOf<RouteCacheOptions['statuses']>().toEqualTypeOf<readonly number[] | undefined>()
  })

  it('types getOrSet by its loader', async () => {
    const app = Fastify()
    const value = await app.cache.getOrSet('k', async () => ({ id: 1 }))
    expectTypeOf(value).toEqualTypeOf<{ id: number }>()
  })
})

describe('tracing types', () => {
  it('instrumentFastkeyCache takes an optional tracer provider and returns the unsubscriber', () => {
    expectTypeOf(instrumentFastkeyCache).returns.toEqualTypeOf<() => void>()
    instrumentFastkeyCache({ tracerProvider: trace.getTracerProvider() })
    // @ts-expect-error a typo is refused
    instrumentFastkeyCache({ tracerProvder: trace.getTracerProvider() })
  })

  it('the channel names are literal types, and contexts are typed per channel', () => {
    expectTypeOf<typeof LOOKUP_CHANNEL>().toEqualTypeOf<'fastkey:cache:lookup'>()
    expectTypeOf<typeof TRACE_CHANNELS.lockWait>().toEqualTypeOf<'fastkey:cache:lock-wait'>()
    expectTypeOf<LookupTraceContext['outcome']>().toEqualTypeOf<
      'hit' | 'miss' | 'stale' | 'bypass' | undefined
    >()
  })
})
