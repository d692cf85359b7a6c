import { MemoryStore, type TagProvider } from '@fastkey/fastify-cache'
import { afterEach, describe, expect, it } from 'vitest'
import { buildApp, ourGlobalMetrics, P, scrape, sleep } from './helpers.js'

afterEach(() => {
  expect(ourGlobalMetrics()).toEqual([])
})

/** Enough of a tag provider for the engine to emit 'invalidate' events. */
class FakeTags implements TagProvider {
  async begin() {
    return undefined
  }
  async seal(_capture: unknown, tags: readonly string[]) {
    return { recorded: tags.join(',') }
  }
  check() {
    return 'valid' as const
  }
  async invalidate() {}
}

describe('service call metrics', () => {
  it('labels service calls `route="service"`, never with the key', async () => {
    const { app } = await buildApp()
    await app.cache.getOrSet('user:1', async () => 'a')
    await app.cache.getOrSet('user:1', async () => 'b')
    await app.cache.get('order:9')

    const m = await scrape(app)
    expect(m.series(`${P}misses_total`)).toEqual({ 'route=service': 2 })
    expect(m.series(`${P}hits_total`)).toEqual({ 'route=service,tier=memory': 1 })
    expect(m.samples.some((s) => Object.values(s.labels).some((v) => v.includes('user:1')))).toBe(false)
  })

  it('keyGroup maps keys to the route label; a throwing or non-string mapper counts under service', async () => {
    const { app } = await buildApp({
      metrics: {
        keyGroup(key) {
          if (key.startsWith('boom')) throw new Error('mapper bug')
          if (key.startsWith('num')) return 42 as unknown as string
          return key.split(':')[0]!
        },
      },
    })
    await app.cache.getOrSet('user:1', async () => 1)
    await app.cache.getOrSet('user:1', async () => 1)
    await app.cache.getOrSet('user:2', async () => 2)
    await app.cache.getOrSet('order:7', async () => 7)
    await app.cache.getOrSet('boom:1', async () => 0)
    await app.cache.getOrSet('num:1', async () => 0)

    const m = await scrape(app)
    expect(m.series(`${P}misses_total`)).toEqual({ 'route=user': 2, 'route=order': 1, 'route=service': 2 })
    expect(m.series(`${P}hits_total`)).toEqual({ 'route=user,tier=memory': 1 })
    expect(m.series(`${P}load_duration_seconds_count`)).toEqual({
      'result=ok,route=user': 2,
      'result=ok,route=order': 1,
      'result=ok,route=service': 2,
    })
  })

  it('loader duration histogram: count, sum and buckets, ok and error', async () => {
    const { app } = await buildApp({ metrics: { buckets: { load: [0.025, 0.5] } } })
    await app.cache.getOrSet('slow', async () => {
      await sleep(60)
      return 1
    })
    await expect(
      app.cache.getOrSet('failing', async () => {
        throw new Error('origin down')
      }),
    ).rejects.toThrow('origin down')

    const m = await scrape(app)
    expect(m.series(`${P}load_duration_seconds_count`)).toEqual({
      'result=ok,route=service': 1,
      'result=error,route=service': 1,
    })
    expect(m.value(`${P}load_duration_seconds_bucket`, { route: 'service', result: 'ok', le: '0.025' })).toBe(
      0,
    )
    expect(m.value(`${P}load_duration_seconds_bucket`, { route: 'service', result: 'ok', le: '+Inf' })).toBe(
      1,
    )
    expect(
      m.value(`${P}load_duration_seconds_sum`, { route: 'service', result: 'ok' }),
    ).toBeGreaterThanOrEqual(0.055)
    expect(
      m.value(`${P}load_duration_seconds_bucket`, { route: 'service', result: 'error', le: '0.025' }),
    ).toBe(1)
  })

  it('stale served on a loader timeout (reason timeout) and on a loader error (reason error)', async () => {
    let now = 5_000_000
    const { app } = await buildApp({ store: new MemoryStore({ now: () => now }) })
    const policy = { ttlMs: 1_000, staleIfErrorMs: 60_000, timeoutMs: 20 }
    await app.cache.getOrSet('k', async () => 'v1', policy)
    await app.cache.getOrSet('e', async () => 'v1', policy)
    now += 2_000
    const slow = app.cache.getOrSet(
      'k',
      async () => {
        await sleep(300)
        return 'v2'
      },
      policy,
    )
    expect(await slow).toBe('v1')
    const failing = app.cache.getOrSet(
      'e',
      async () => {
        throw new Error('down')
      },
      policy,
    )
    expect(await failing).toBe('v1')
    await app.cache.drain()

    const m = await scrape(app)
    expect(m.series(`${P}stale_total`)).toEqual({
      'reason=timeout,route=service': 1,
      'reason=error,route=service': 1,
    })
  })

  it('invalidations by mode: tags (hard, soft) and deleted keys', async () => {
    const { app } = await buildApp({ cache: { tags: new FakeTags() } })
    await app.cache.invalidateTags(['product:1', 'category:tv'])
    await app.cache.invalidateTags(['product:2'], { mode: 'soft' })
    await app.cache.invalidateTags(['product:3'], { mode: 'hard' })
    await app.cache.set('a', 1)
    await app.cache.delete(['a', 'b', 'c'])
    await app.cache.delete('d')

    const m = await scrape(app)
    expect(m.series(`${P}invalidations_total`)).toEqual({ 'mode=hard': 3, 'mode=soft': 1, 'mode=delete': 4 })
  })
})
