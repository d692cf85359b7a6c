import { Cache, type CacheOptions, type CacheStore } from '@fastkey/fastify-cache'
import { busOf } from '@fastkey/fastify-cache/testing'
import { sleep } from '@fastkey/test-services'
import { onTestFinished } from 'vitest'
import { createTagProvider, type TagProviderOptions, type TagVersionProvider } from '../src/index.js'

// Stores, clients and timing helpers are shared with @fastkey/fastify-cache's own tests.
export {
  clusterClient,
  deferred,
  keydbStandaloneKit,
  memoryKit,
  redisClient,
  type StoreKit as Kit,
  sleep,
  storeKits as kits,
} from '../../fastify-cache/test/helpers.js'

export interface Instance {
  cache: Cache
  tags: TagVersionProvider
}

/** One app instance: an engine with its own tag provider, closed after the test. */
export async function instance(
  store: CacheStore,
  options: Omit<CacheOptions, 'store' | 'tags'> = {},
  tagOptions: TagProviderOptions = {},
): Promise<Instance> {
  // Generous deadline: these tests check behaviour; failures.test.ts checks deadlines with its own.
  const tags = createTagProvider({ commandTimeoutMs: 2_000, ...tagOptions })
  const cache = new Cache({ store, tags, ...options })
  onTestFinished(() => cache.close())
  await cache.ready()
  await tags.ready() // the topology the default clockSkewMs comes from, the invalidation mark
  // ready() means the subscription was asked for; wait until it is confirmed (slower on a cluster).
  for (let i = 0; i < 300 && !busOf(cache).healthy; i++) await sleep(10)
  if (!busOf(cache).healthy) throw new Error('the bus did not come up')
  return { cache, tags }
}

/** Resolves when `cache` has heard the next tag invalidation on its bus. */
export function heardInvalidation(cache: Cache): Promise<void> {
  return new Promise((resolve) => {
    let done = false
    busOf(cache).on('t', () => {
      if (done) return
      done = true
      resolve()
    })
  })
}

/**
 * Invalidates through `by` and resolves once every other instance has heard it (their memoised
 * versions are gone). With the memory store versions are in process: nothing to wait for.
 */
export async function invalidateEverywhere(
  by: Instance,
  others: Instance[],
  tags: string[],
  mode: 'soft' | 'hard' = 'hard',
): Promise<void> {
  const heard = by.tags.backendKind === 'memory' ? [] : others.map((o) => heardInvalidation(o.cache))
  await by.cache.invalidateTags(tags, { mode })
  await Promise.all(heard)
}
