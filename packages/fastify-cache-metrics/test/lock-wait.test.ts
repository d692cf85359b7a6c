import { type CacheStore, KeydbStore } from '@fastkey/fastify-cache'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { buildApp, keydbStore, ourGlobalMetrics, P, scrape } from './helpers.js'

afterEach(() => {
  expect(ourGlobalMetrics()).toEqual([])
})

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** Observes (does not alter) a store: resolves `tried` once a lock acquisition has answered. */
function observeLocks(store: CacheStore) {
  const tried = deferred()
  const observed = new Proxy(store, {
    get(target, property) {
      if (property === 'acquireLock')
        return async (...args: Parameters<CacheStore['acquireLock']>) => {
          const result = await target.acquireLock(...args)
          tried.resolve()
          return result
        }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { observed, tried: tried.promise }
}

describe('lock wait metrics (KeyDB)', () => {
  it("outcome filled: an instance waits for another instance's fill, then serves it as a keydb hit", async () => {
    const { store, client } = await keydbStore()
    const twin = new KeydbStore({ client, keyPrefix: store.keyPrefix })
    onTestFinished(() => twin.close())
    const started = deferred()
    const release = deferred()
    let calls = 0
    const routes = (app: import('fastify').FastifyInstance) =>
      app.get('/slow/:id', { config: { cache: { lock: { ttlMs: 10_000, waitMs: 8_000 } } } }, async () => {
        calls++
        started.resolve()
        await release.promise
        return { calls }
      })
    const a = await buildApp({ store, routes })
    const { observed, tried } = observeLocks(twin)
    const b = await buildApp({ store: observed, routes })

    const first = a.app.inject('/slow/1')
    await started.promise // a holds the lock
    const second = b.app.inject('/slow/1')
    await tried // b was refused the lock: it is waiting for a's fill
    release.resolve()
    const [ra, rb] = await Promise.all([first, second])
    await Promise.all([a.app.cache.drain(), b.app.cache.drain()])
    expect(calls).toBe(1)
    expect(ra.headers['x-cache']).toBe('MISS')
    expect(rb.headers['x-cache']).toBe('HIT')

    const mb = await scrape(b.app)
    expect(mb.series(`${P}lock_wait_seconds_count`)).toEqual({ 'outcome=filled,route=/slow/:id': 1 })
    expect(mb.series(`${P}hits_total`)).toEqual({ 'route=/slow/:id,tier=keydb': 1 })
    expect(mb.series(`${P}misses_total`)).toEqual({ 'route=/slow/:id': 1 })
    const ma = await scrape(a.app)
    expect(ma.series(`${P}lock_wait_seconds_count`)).toEqual({})
    expect(ma.series(`${P}misses_total`)).toEqual({ 'route=/slow/:id': 1 })
  })

  it('outcome timeout: a lock nobody releases makes the caller wait waitMs, then load itself', async () => {
    const { store } = await keydbStore()
    const { app } = await buildApp({ store, metrics: { keyGroup: (key) => key.split(':')[0]! } })
    await store.acquireLock('report:1', 'someone-else', 10_000)
    const waitMs = 80
    const value = await app.cache.getOrSet('report:1', async () => 'mine', {
      lock: { ttlMs: 10_000, waitMs },
    })
    expect(value).toBe('mine')
    await app.cache.drain()

    const m = await scrape(app)
    expect(m.series(`${P}lock_wait_seconds_count`)).toEqual({ 'outcome=timeout,route=report': 1 })
    expect(
      m.value(`${P}lock_wait_seconds_sum`, { route: 'report', outcome: 'timeout' }),
    ).toBeGreaterThanOrEqual((waitMs - 5) / 1000)
    expect(m.value(`${P}lock_wait_seconds_bucket`, { route: 'report', outcome: 'timeout', le: '0.05' })).toBe(
      0,
    )
    expect(m.series(`${P}load_duration_seconds_count`)).toEqual({ 'result=ok,route=report': 1 })
  })
})
