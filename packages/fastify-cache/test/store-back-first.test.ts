import { startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { expect, it, onTestFinished } from 'vitest'
import { Cache, KeydbStore } from '../src/index.js'
import { sleep } from './helpers.js'

// After a KeyDB restart an instance's store connection and its subscriber come back in either
// order. Store first: the server has restored (append-only file) an entry a peer's held delete is
// about to remove, and the peer's replay cannot be heard yet. Before the fix, B read it as a HIT in
// that window (the demo's outage test served the old price in 3 of 6 runs under load).

const SUBSCRIBER_BACK_AFTER_MS = 1_500

function client(url: string, retryMs: number): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => retryMs,
  })
  redis.on('error', () => {})
  onTestFinished(() => redis.disconnect())
  return redis
}

it('a store back before its subscriber is left alone until the bus is: no read of a restored entry', async () => {
  const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
  onTestFinished(() => server.stop())
  const keyPrefix = 'back-first'
  const instance = (subscriberRetryMs: number) => {
    const store = new KeydbStore({
      client: client(server.url, 20),
      keyPrefix,
      commandTimeoutMs: 200,
      subscriber: client(server.url, subscriberRetryMs),
    })
    const cache = new Cache({ store, breaker: { failureThreshold: 1_000 } })
    onTestFinished(() => cache.close())
    return cache
  }
  const a = instance(20)
  const b = instance(SUBSCRIBER_BACK_AFTER_MS)
  await Promise.all([a.ready(), b.ready()])
  await sleep(300) // each has heard the other
  await a.set('k', 'old', { ttlMs: 60_000 })
  expect(await b.get('k')).toBe('old')

  await server.kill()
  const deleted = await a.delete('k').catch((error: { code?: string }) => error.code)
  expect(deleted).toBe('FST_CACHE_INVALIDATION_PENDING')
  await server.restart() // 'k' is back from the append-only file
  const reads: unknown[] = []
  const until = performance.now() + SUBSCRIBER_BACK_AFTER_MS + 1_500
  while (performance.now() < until) {
    reads.push(await b.get('k'))
    await sleep(20)
  }
  expect(a.pendingInvalidations.keys).toBe(0) // replayed
  expect(reads.filter((value) => value === 'old')).toEqual([])
  // And B uses the store again once its bus is back.
  await a.set('after', 'fresh', { ttlMs: 60_000 })
  let after: unknown
  for (let i = 0; i < 200 && after !== 'fresh'; i++) {
    after = await b.get('after')
    await sleep(20)
  }
  expect(after).toBe('fresh')
})
