import { Cache, type CacheOptions, type CacheStore, KeydbStore, MemoryStore } from '@fastkey/fastify-cache'
import {
  cleanupPrefix,
  clusterNodes,
  redisUrl,
  uniquePrefix,
  warnClusterSkipped,
} from '@fastkey/test-services'
import { Cluster, Redis } from 'ioredis'
import { onTestFinished } from 'vitest'
import { createTagProvider, type TagProviderOptions, type TagVersionProvider } from '../src/index.js'

export interface Kit {
  name: 'memory' | 'keydb' | 'cluster'
  /** A fresh store with its own namespace, cleaned up after the test. */
  make(): Promise<{ store: CacheStore; namespace: string; client?: Redis | Cluster }>
  /** Another "instance" on the same data: same client and namespace (or the same MemoryStore). */
  twin(store: CacheStore): CacheStore
}

export async function redisClient(url?: string): Promise<Redis> {
  const client = new Redis(url ?? (await redisUrl()), { lazyConnect: true })
  await client.connect()
  onTestFinished(() => client.quit().then(() => undefined))
  return client
}

async function clusterClient(): Promise<Cluster> {
  const client = new Cluster(clusterNodes()!, { lazyConnect: true })
  await client.connect()
  onTestFinished(() => client.quit().then(() => undefined))
  return client
}

function keydbKit(name: 'keydb' | 'cluster', connect: () => Promise<Redis | Cluster>): Kit {
  return {
    name,
    async make() {
      const client = await connect()
      const namespace = uniquePrefix(`tags-${name}`).slice(0, -1)
      const store = new KeydbStore({ client, namespace })
      onTestFinished(async () => {
        await store.close()
        await cleanupPrefix(client, `${namespace}:`)
      })
      return { store, namespace, client }
    },
    twin(store) {
      const keydb = store as KeydbStore
      const twin = new KeydbStore({ client: keydb.client, namespace: keydb.namespace })
      onTestFinished(() => twin.close())
      return twin
    },
  }
}

export const memoryKit: Kit = {
  name: 'memory',
  async make() {
    return { store: new MemoryStore(), namespace: 'memory' }
  },
  twin: (store) => store,
}

export const keydbStandaloneKit = keydbKit('keydb', () => redisClient())

/** Memory, Redis standalone, and the cluster when KEYDB_CLUSTER_NODES is set. */
export function kits(suite: string): Kit[] {
  const list = [memoryKit, keydbStandaloneKit]
  if (clusterNodes()) list.push(keydbKit('cluster', clusterClient))
  else warnClusterSkipped(suite)
  return list
}

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
  const tags = createTagProvider(tagOptions)
  const cache = new Cache({ store, tags, ...options })
  onTestFinished(() => cache.close())
  await cache.ready()
  // ready() means the subscription was asked for; wait until it is confirmed (slower on a cluster).
  for (let i = 0; i < 300 && !cache.bus.healthy; i++) await sleep(10)
  if (!cache.bus.healthy) throw new Error('the bus did not come up')
  return { cache, tags }
}

/** Resolves when `cache` has heard the next tag invalidation on its bus. */
export function heardInvalidation(cache: Cache): Promise<void> {
  return new Promise((resolve) => {
    let done = false
    cache.bus.on('t', () => {
      if (done) return
      done = true
      resolve()
    })
  })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
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
