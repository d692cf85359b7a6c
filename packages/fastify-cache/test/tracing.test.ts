import diagnostics from 'node:diagnostics_channel'
import { context, propagation, trace } from '@opentelemetry/api'
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest'
import { Cache, type CacheOptions, type CacheStore, MemoryStore } from '../src/index.js'
import { instrumentFastkeyCache } from '../src/opentelemetry/index.js'
import { TRACE_CHANNELS } from '../src/tracing/index.js'
import { buildApp } from './app-helpers.js'
import { deferred, keydbStandaloneKit, sleep } from './helpers.js'

// The README's setup: a NodeTracerProvider registered globally (its AsyncLocalStorage context
// manager gives the active context), an in-memory exporter, and the bridge.
const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })

beforeAll(() => provider.register())
afterAll(async () => {
  await provider.shutdown()
  trace.disable()
  context.disable()
  propagation.disable()
})

/** The bridge on for this test only; spans of earlier tests forgotten. */
function instrument(): () => void {
  exporter.reset()
  const dispose = instrumentFastkeyCache()
  onTestFinished(dispose)
  return dispose
}

function engine(store: CacheStore, options: CacheOptions = {}): Cache {
  const cache = new Cache({ store, ...options })
  onTestFinished(() => cache.close())
  return cache
}

const spans = (name?: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((span) => name === undefined || span.name === name)

const outcomes = (name: string) => spans(name).map((span) => span.attributes['fastkey.cache.outcome'])

/** No attribute of any span holds the raw key, the URL or the value. */
function expectNothingRaw(...secrets: string[]): void {
  for (const span of spans())
    for (const value of Object.values(span.attributes))
      for (const secret of secrets) expect(String(value)).not.toContain(secret)
}

/** A route's responses end their trace when the response closes, after inject() resolved: wait for it. */
async function settled(count: number, name: string): Promise<void> {
  for (let i = 0; i < 100 && spans(name).length < count; i++) await sleep(5)
}

async function productApp(store: CacheStore, loads: { n: number }): Promise<FastifyInstance> {
  return buildApp(store, { l1: { maxEntries: 100 } }, (app) => {
    app.get('/products/:id', { config: { cache: { ttlMs: 60_000 } } }, async (request) => {
      loads.n++
      return { id: (request.params as { id: string }).id, price: 'secret-price-9.99' }
    })
  })
}

describe('tracing: OpenTelemetry spans from the trace channels', () => {
  it('a route MISS then HIT: one lookup span each, told apart, with the route pattern and no URL', async () => {
    instrument()
    const { store } = await keydbStandaloneKit.make()
    const loads = { n: 0 }
    const app = await productApp(store, loads)
    await app.cache.ready() // L1 is trusted once the bus is subscribed
    const miss = await app.inject('/products/sku-4711?color=red')
    expect(miss.headers['x-cache']).toBe('MISS')
    await settled(1, 'fastkey.cache.lookup')
    await app.cache.drain() // the fill is written (store, then L1) after the response
    const hit = await app.inject('/products/sku-4711?color=red')
    expect(hit.headers['x-cache']).toBe('HIT')
    await settled(2, 'fastkey.cache.lookup')
    expect(loads.n).toBe(1)

    const lookups = spans('fastkey.cache.lookup')
    expect(lookups.map((s) => s.attributes)).toEqual([
      expect.objectContaining({
        'fastkey.cache.operation': 'lookup',
        'fastkey.cache.outcome': 'miss',
        'fastkey.cache.tier': 'none',
        'http.route': '/products/:id',
        'http.request.method': 'GET',
        'http.response.status_code': 200,
      }),
      expect.objectContaining({ 'fastkey.cache.outcome': 'hit', 'fastkey.cache.tier': 'l1' }),
    ])
    // The handler run of the MISS is the load.
    expect(spans('fastkey.cache.load').map((s) => s.attributes)).toEqual([
      expect.objectContaining({ 'fastkey.cache.outcome': 'ok', 'http.route': '/products/:id' }),
    ])
    expectNothingRaw('sku-4711', 'color=red', 'secret-price')
  })

  it('a BYPASS and a HIT from the store (no L1)', async () => {
    instrument()
    const { store } = await keydbStandaloneKit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/p', { config: { cache: { ttlMs: 60_000 } } }, async () => 'body')
    })
    await app.inject('/p')
    await app.inject('/p')
    await app.inject({ url: '/p', headers: { authorization: 'Bearer x' } })
    await settled(3, 'fastkey.cache.lookup')
    expect(
      spans('fastkey.cache.lookup').map((s) => [
        s.attributes['fastkey.cache.outcome'],
        s.attributes['fastkey.cache.tier'],
      ]),
    ).toEqual([
      ['miss', 'none'],
      ['hit', 'store'],
      ['bypass', 'none'],
    ])
  })

  it('getOrSet: a miss that loads, then a hit; get and wrap; parented to the active span', async () => {
    instrument()
    const { store } = await keydbStandaloneKit.make()
    const cache = engine(store)
    const tracer = trace.getTracer('test')
    await tracer.startActiveSpan('parent', async (parent) => {
      expect(await cache.getOrSet('user:secret-key-1', async () => ({ name: 'secret-value' }))).toEqual({
        name: 'secret-value',
      })
      await cache.getOrSet('user:secret-key-1', async () => ({ name: 'other' }))
      parent.end()
    })
    await cache.get('user:secret-key-1')
    await cache.get('user:secret-key-2')
    const wrapped = cache.wrap(async (id: number) => id * 2, { key: (id) => `double:${id}` })
    expect(await wrapped(21)).toBe(42)

    const calls = spans('fastkey.cache.getOrSet')
    expect(calls.map((s) => s.attributes)).toEqual([
      expect.objectContaining({
        'fastkey.cache.operation': 'getOrSet',
        'fastkey.cache.outcome': 'miss',
        'fastkey.cache.tier': 'none',
      }),
      expect.objectContaining({ 'fastkey.cache.outcome': 'hit', 'fastkey.cache.tier': 'store' }),
    ])
    const [parent] = spans('parent')
    for (const call of calls) expect(call.parentSpanContext?.spanId).toBe(parent!.spanContext().spanId)
    expect(outcomes('fastkey.cache.get')).toEqual(['hit', 'miss'])
    expect(outcomes('fastkey.cache.wrap')).toEqual(['miss'])
    expect(outcomes('fastkey.cache.load')).toEqual(['ok', 'ok'])
    expectNothingRaw('secret-key', 'secret-value', 'double:')
  })

  it('a failing loader: the call and the load spans have an error status', async () => {
    instrument()
    const cache = engine(new MemoryStore())
    await expect(cache.getOrSet('k', async () => Promise.reject(new Error('origin down')))).rejects.toThrow(
      'origin down',
    )
    const [load] = spans('fastkey.cache.load')
    const [call] = spans('fastkey.cache.getOrSet')
    expect(load!.attributes['fastkey.cache.outcome']).toBe('error')
    expect(load!.status.code).toBe(2) // SpanStatusCode.ERROR
    expect(call!.status).toEqual({ code: 2, message: 'origin down' })
    expect(load!.events.map((e) => e.name)).toEqual(['exception'])
  })

  it('invalidations: delete, clear and invalidateTags with their counts; pending when the store is down', async () => {
    instrument()
    const { store } = await keydbStandaloneKit.make()
    const cache = engine(store)
    await cache.set('a', 1)
    await cache.set('b', 2)
    expect(await cache.delete(['a', 'secret-gone'])).toBe(1)
    await cache.set('c', 3)
    expect(await cache.clear()).toBeGreaterThanOrEqual(1)
    await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({ code: 'FST_CACHE_NO_TAG_PROVIDER' })

    const [deleted] = spans('fastkey.cache.delete')
    expect(deleted!.attributes).toMatchObject({ 'fastkey.cache.outcome': 'ok', 'fastkey.cache.count': 2 })
    const [cleared] = spans('fastkey.cache.clear')
    expect(cleared!.attributes['fastkey.cache.outcome']).toBe('ok')
    expect(cleared!.attributes['fastkey.cache.count']).toBeGreaterThanOrEqual(2)
    expectNothingRaw('secret-gone')

    // A store that refuses deletes: the delete is held (pending), and the span says so.
    const memory = new MemoryStore()
    const down = new Proxy(memory, {
      get(target, name) {
        if (name === 'delete') return () => Promise.reject(new Error('store down'))
        const value = Reflect.get(target, name, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const held = engine(down)
    await expect(held.delete('x')).rejects.toMatchObject({ code: 'FST_CACHE_INVALIDATION_PENDING' })
    const pending = spans('fastkey.cache.delete')[1]!
    expect(pending.attributes['fastkey.cache.outcome']).toBe('pending')
    expect(pending.status.code).toBe(2)
  })

  it('invalidateTags through a tag provider: count, mode', async () => {
    instrument()
    const invalidated: string[][] = []
    const tags = {
      begin: async () => undefined,
      seal: async () => ({ recorded: '' }),
      check: () => 'valid' as const,
      invalidate: async (list: readonly string[]) => {
        invalidated.push([...list])
      },
    }
    const cache = engine(new MemoryStore(), { tags })
    await cache.invalidateTags(['product:1', 'cat:tv'], { mode: 'soft' })
    expect(invalidated).toEqual([['product:1', 'cat:tv']])
    expect(spans('fastkey.cache.invalidateTags').map((s) => s.attributes)).toEqual([
      expect.objectContaining({
        'fastkey.cache.outcome': 'ok',
        'fastkey.cache.count': 2,
        'fastkey.cache.invalidation.mode': 'soft',
      }),
    ])
  })

  it('a lock wait across two instances: the waiter gets the fill of the holder', async () => {
    instrument()
    const { store } = await keydbStandaloneKit.make()
    const a = engine(store)
    const b = engine(keydbStandaloneKit.twin(store))
    await Promise.all([a.ready(), b.ready()])
    const gate = deferred()
    const leader = a.getOrSet('stampede', async () => {
      await gate.promise
      return 'from-a'
    })
    await sleep(30)
    const follower = b.getOrSet('stampede', async () => 'from-b', { lock: { ttlMs: 5_000, waitMs: 4_000 } })
    await sleep(30)
    gate.resolve()
    expect(await leader).toBe('from-a')
    expect(await follower).toBe('from-a')
    expect(outcomes('fastkey.cache.lock-wait')).toEqual(['filled'])
    expect(outcomes('fastkey.cache.load')).toEqual(['ok'])
  })

  it('a route STALE: served from the store while the refresh runs (a lookup and a load of its own)', async () => {
    instrument()
    const { store } = await keydbStandaloneKit.make()
    let n = 0
    const app = await buildApp(store, {}, (app) => {
      app.get(
        '/s',
        { config: { cache: { ttlMs: 50, staleWhileRevalidateMs: 60_000 } } },
        async () => `v${++n}`,
      )
    })
    await app.inject('/s')
    await app.cache.drain()
    await sleep(80)
    const stale = await app.inject('/s')
    expect(stale.headers['x-cache']).toBe('STALE')
    await app.cache.drain()
    await settled(3, 'fastkey.cache.lookup')
    const lookups = spans('fastkey.cache.lookup').map((s) => [
      s.attributes['fastkey.cache.outcome'],
      s.attributes['fastkey.cache.tier'],
    ])
    expect(lookups).toContainEqual(['stale', 'store'])
    expect(lookups.filter(([outcome]) => outcome === 'miss')).toHaveLength(2) // the first request, the refresh
    expect(outcomes('fastkey.cache.load')).toEqual(['ok', 'ok'])
  })

  it('a slow loader past timeoutMs: the call answers stale, its load ends as timeout', async () => {
    instrument()
    const cache = engine(new MemoryStore())
    const options = { ttlMs: 30, staleIfErrorMs: 60_000, timeoutMs: 20 }
    await cache.getOrSet('slow', async () => 'old', options)
    await sleep(50)
    const gate = deferred()
    const value = await cache.getOrSet(
      'slow',
      async () => {
        await gate.promise
        return 'new'
      },
      options,
    )
    expect(value).toBe('old')
    gate.resolve()
    await cache.drain()
    expect(outcomes('fastkey.cache.getOrSet')).toEqual(['miss', 'stale'])
    expect(outcomes('fastkey.cache.load')).toEqual(['ok', 'timeout'])
  })

  it('raw subscribers: start, end, asyncStart, asyncEnd in order, and contexts without keys', async () => {
    exporter.reset()
    const seen: Array<[string, string]> = []
    const contexts = new Set<object>()
    const subscriptions = Object.values(TRACE_CHANNELS).flatMap((name) =>
      (['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const).map((event) => {
        const channel = diagnostics.tracingChannel(name)[event]
        const listener = (message: unknown) => {
          seen.push([event, (message as { operation: string }).operation])
          contexts.add(message as object)
        }
        channel.subscribe(listener)
        return () => channel.unsubscribe(listener)
      }),
    )
    onTestFinished(() => {
      for (const unsubscribe of subscriptions) unsubscribe()
    })
    const loads = { n: 0 }
    const app = await productApp(new MemoryStore(), loads)
    await app.inject('/products/secret-id')
    for (let i = 0; i < 100 && !seen.some(([e, op]) => e === 'asyncEnd' && op === 'lookup'); i++)
      await sleep(5)
    const cache = engine(new MemoryStore())
    await cache.getOrSet('secret-key', async () => 'secret-value')
    const lifecycle = ['start', 'end', 'asyncStart', 'asyncEnd']
    for (const operation of ['lookup', 'load', 'getOrSet'])
      expect(seen.filter(([, op]) => op === operation).map(([event]) => event)).toEqual(
        operation === 'load' ? [...lifecycle, ...lifecycle] : lifecycle,
      )
    for (const context of contexts) {
      const text = JSON.stringify(context)
      for (const secret of ['secret-id', 'secret-key', 'secret-value', 'secret-price'])
        expect(text).not.toContain(secret)
    }
  })

  it('unsubscribing stops the spans', async () => {
    const dispose = instrument()
    const cache = engine(new MemoryStore())
    await cache.getOrSet('k', async () => 1)
    expect(spans()).toHaveLength(2) // the call and its load
    dispose()
    dispose() // a second call does nothing
    await cache.getOrSet('k2', async () => 1)
    await cache.delete('k')
    expect(spans()).toHaveLength(2)
    for (const name of Object.values(TRACE_CHANNELS))
      expect(diagnostics.tracingChannel(name).hasSubscribers).toBe(false)
  })

  it('a tracer that throws breaks no request and no call', async () => {
    exporter.reset()
    const broken = {
      getTracer: () => {
        throw new Error('broken tracer')
      },
    }
    onTestFinished(instrumentFastkeyCache({ tracerProvider: broken }))
    const loads = { n: 0 }
    const app = await productApp(new MemoryStore(), loads)
    expect((await app.inject('/products/1')).statusCode).toBe(200)
    expect((await app.inject('/products/1')).headers['x-cache']).toBe('HIT')
    const cache = engine(new MemoryStore())
    expect(await cache.getOrSet('k', async () => 'v')).toBe('v')
    expect(await cache.delete('k')).toBe(1)
  })

  it('nobody subscribed: nothing is published, no context is built', async () => {
    exporter.reset()
    const published: unknown[] = []
    for (const name of Object.values(TRACE_CHANNELS)) {
      const channel = diagnostics.tracingChannel(name)
      expect(channel.hasSubscribers).toBe(false)
      for (const event of ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const)
        vi.spyOn(channel[event], 'publish').mockImplementation((message) => published.push(message))
    }
    onTestFinished(() => {
      vi.restoreAllMocks()
    })
    const { store } = await keydbStandaloneKit.make()
    const loads = { n: 0 }
    const app = await productApp(store, loads)
    expect((await app.inject('/products/1')).headers['x-cache']).toBe('MISS')
    expect((await app.inject('/products/1')).headers['x-cache']).toBe('HIT')
    const cache = engine(store)
    await cache.getOrSet('k', async () => 'v')
    await cache.get('k')
    await cache.delete('k')
    await cache.clear()
    await sleep(20)
    expect(published).toEqual([])
    expect(spans()).toEqual([])
  })
})
