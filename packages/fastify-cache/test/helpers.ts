import {
  cleanupPrefix,
  clusterNodes,
  redisUrl,
  uniquePrefix,
  warnClusterSkipped,
} from '@fastkey/test-services'
import { Cluster, Redis } from 'ioredis'
import { onTestFinished } from 'vitest'
import { type CacheStore, KeydbStore, MemoryStore } from '../src/index.js'

/**
 * Contract and engine tests check behaviour, not deadlines (the fault tests do): a generous store
 * deadline keeps them from failing when a loaded CI machine delays a reply past the 200 ms default.
 */
const TEST_STORE_TIMEOUT_MS = 2_000

export interface StoreKit {
  name: 'memory' | 'keydb' | 'cluster'
  /** A fresh store isolated from every other test (own namespace), cleaned up after the test. */
  make(): Promise<{ store: CacheStore; namespace: string; client?: Redis | Cluster }>
  /** A second store of the same backing data (another "instance"). */
  twin(store: CacheStore): CacheStore
}

export async function redisClient(url?: string): Promise<Redis> {
  const client = new Redis(url ?? (await redisUrl()), { lazyConnect: true })
  await client.connect()
  onTestFinished(() => client.quit().then(() => undefined))
  return client
}

export async function clusterClient(): Promise<Cluster> {
  const nodes = clusterNodes()
  if (!nodes) throw new Error('no cluster')
  const client = new Cluster(nodes, { lazyConnect: true })
  await client.connect()
  onTestFinished(() => client.quit().then(() => undefined))
  return client
}

export function keydbKit(name: 'keydb' | 'cluster', connect: () => Promise<Redis | Cluster>): StoreKit {
  const clients = new WeakMap<CacheStore, Redis | Cluster>()
  return {
    name,
    async make() {
      const client = await connect()
      const namespace = uniquePrefix(name).slice(0, -1)
      const store = new KeydbStore({ client, keyPrefix: namespace, commandTimeoutMs: TEST_STORE_TIMEOUT_MS })
      clients.set(store, client)
      onTestFinished(async () => {
        await store.close()
        await cleanupPrefix(client, `${namespace}:`)
      })
      return { store, namespace, client }
    },
    twin(store) {
      const twin = new KeydbStore({
        client: clients.get(store)!,
        keyPrefix: (store as KeydbStore).keyPrefix,
        commandTimeoutMs: TEST_STORE_TIMEOUT_MS,
      })
      onTestFinished(() => twin.close())
      return twin
    },
  }
}

export const memoryKit: StoreKit = {
  name: 'memory',
  async make() {
    return { store: new MemoryStore(), namespace: 'memory' }
  },
  twin: (store) => store,
}

export const keydbStandaloneKit = keydbKit('keydb', () => redisClient())

/** Every store the contract runs against; the cluster one only when KEYDB_CLUSTER_NODES is set. */
export function storeKits(suite: string): StoreKit[] {
  const kits = [memoryKit, keydbStandaloneKit]
  if (clusterNodes()) kits.push(keydbKit('cluster', clusterClient))
  else warnClusterSkipped(suite)
  return kits
}

export { deferred, sleep } from '@fastkey/test-services'
