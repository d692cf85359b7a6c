import { cleanupPrefix } from '@fastkey/test-services'
import type { Cluster, Redis } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import { DEAF_BOUND_MS } from '../src/bus/bus.js'
import { Cache, type CacheStore, KeydbStore } from '../src/index.js'
import { clusterClient, deferred, keydbKit, redisClient, sleep } from './helpers.js'

// Coherence and failure edges (issue 13): a slow KeyDB, a deaf bus, this instance's own delete.
// Real Redis; a Proxy over the store only to inject the fault.

const DEADLINE_MS = 200
/** Timers and the event loop on a shared 2-core machine: a margin, never a second deadline. */
const SLACK_MS = 60

function cacheOn(store: CacheStore, l1 = false): Cache {
  const cache = new Cache({ store, ...(l1 ? { l1: { maxEntries: 100, ttlMs: 5_000 } } : {}) })
  onTestFinished(() => cache.close())
  return cache
}

/** `store` with every reply delayed by `delayMs` while `slow.on` (a KeyDB answering just under its deadline). */
function slowed(store: CacheStore, delayMs: number) {
  const slow = { on: false }
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      if (prop === 'subscribe' || prop === 'publish' || prop === 'close') return value.bind(target)
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args)
        if (slow.on) await sleep(delayMs)
        return result
      }
    },
  })
  return { store: proxy, slow }
}

async function keydbStore(client: Redis | Cluster, commandTimeoutMs = DEADLINE_MS): Promise<KeydbStore> {
  const keyPrefix = `edges-${Math.random().toString(36).slice(2, 10)}`
  const store = new KeydbStore({ client, keyPrefix, commandTimeoutMs })
  onTestFinished(async () => {
    await store.close()
    await cleanupPrefix(client, `${keyPrefix}:`)
  })
  return store
}

/**
 * Fault injection: `real`, whose next `get` after `arm()` has its reply but is held until `until`
 * settles (`replied` says when it is held); `overrides` replace other methods.
 */
function holdingNextRead(real: CacheStore, until: Promise<unknown>, overrides: Partial<CacheStore> = {}) {
  const replied = deferred()
  let armed = false
  const store = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'get')
        return async (key: string) => {
          const result = await target.get(key)
          if (armed) {
            armed = false
            replied.resolve()
            await until
          }
          return result
        }
      if (prop in overrides) return overrides[prop as keyof CacheStore]
      const value = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { store, replied: replied.promise, arm: () => (armed = true) }
}

describe('gray failure: a KeyDB that answers every command late (item 8)', () => {
  it('a request spends at most one deadline on KeyDB in total, and slow replies open the circuit', async () => {
    const client = await redisClient()
    const { store, slow } = slowed(await keydbStore(client), 150)
    const cache = cacheOn(store)
    await cache.ready()
    slow.on = true
    const took: number[] = []
    for (let i = 0; i < 12; i++) {
      const started = performance.now()
      // A cold key: lookup, then lock (and generation) before the loader: two calls of 150 ms each.
      expect(await cache.getOrSet(`cold-${i}`, async () => i)).toBe(i)
      took.push(performance.now() - started)
    }
    for (const ms of took) expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS)
    // 150 ms is slow (from 100 ms, half the deadline): after the threshold the circuit opens and
    // requests skip KeyDB, answering in the origin's time.
    expect(cache.circuitState).not.toBe('closed')
    expect(Math.min(...took.slice(-4))).toBeLessThan(30)
  })
})

describe('a deaf bus: the subscriber stops delivering, its connection stays open (item 3)', () => {
  it('within the silence bound L1 is off (a delete it did not hear is not served), then back on', async () => {
    const client = await redisClient()
    const subscriber = client.duplicate()
    onTestFinished(() => subscriber.disconnect())
    // Fault injection: while `deaf`, the subscriber's messages are dropped before anyone sees them.
    let deaf = false
    const emit = subscriber.emit.bind(subscriber)
    subscriber.emit = ((event: string, ...args: unknown[]) =>
      event === 'message' && deaf ? false : emit(event, ...args)) as typeof subscriber.emit
    const base = await keydbStore(client, 2_000)
    const a = cacheOn(new KeydbStore({ client, keyPrefix: base.keyPrefix, subscriber }), true)
    const b = cacheOn(base)
    await Promise.all([a.ready(), b.ready()])
    await a.set('k', 'old')
    expect(await a.get('k')).toBe('old')
    expect(a.l1Stats.entries).toBe(1)
    deaf = true
    await sleep(DEAF_BOUND_MS + SLACK_MS)
    expect(a.l1Stats.entries).toBe(0)
    await b.delete('k') // A hears nothing of it
    expect(await a.get('k')).toBeUndefined()
    await b.set('k', 'new')
    expect(await a.getOrSet('k', async () => 'origin')).not.toBe('old')
    expect(a.l1Stats.entries).toBe(0) // nothing kept in L1 while deaf
    deaf = false
    // Messages flow again (the bus reconnected its subscriber, heartbeats are heard, the peers it
    // knew spoke again): L1 is used again.
    const deadline = performance.now() + 5_000
    while (performance.now() < deadline && a.l1Stats.entries === 0) {
      await a.get('k')
      await sleep(50)
    }
    expect(a.l1Stats.entries).toBe(1)
  })
})

describe("this instance's own delete (item 2)", () => {
  const kits = [keydbKit('keydb', () => redisClient())]
  if (process.env.KEYDB_CLUSTER_NODES) kits.push(keydbKit('cluster', clusterClient))
  it.each(kits)(
    'a read in flight during delete() does not put the old entry back in L1 ($name)',
    async (kit) => {
      const { store: real } = await kit.make()
      // Fault injection: the read has its reply (the old entry) but is held until the delete has landed
      // in the store, so it ends before the delete's own bus echo is back.
      const deleted = deferred()
      const { store, arm, replied } = holdingNextRead(real, deleted.promise, {
        delete: async (keys: readonly string[]) => {
          const removed = await real.delete(keys)
          deleted.resolve()
          return removed
        },
      })
      const cache = cacheOn(store, true)
      const writer = cacheOn(kit.twin(real)) // another instance wrote the entry: not in this L1
      await Promise.all([cache.ready(), writer.ready()])
      await writer.set('p', 'old')
      await sleep(50) // this instance has heard the write's bus message: no other message is due
      arm()
      const reading = cache.get('p')
      await replied
      await cache.delete('p')
      expect(await reading).toBe('old') // it started before the delete: it may answer what it read
      expect(cache.l1Stats.entries).toBe(0)
      expect(await cache.get('p')).toBeUndefined()
    },
  )
})

/** Keys under `prefix` on every master. */
async function keysUnder(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = 'isCluster' in client && client.isCluster ? (client as Cluster).nodes('master') : [client]
  const found = await Promise.all(nodes.map((node) => node.keys(`${prefix}*`)))
  return found.flat()
}

describe('a fill that stores nothing leaves no key behind', () => {
  const clients: Array<{ name: string; connect: () => Promise<Redis | Cluster> }> = [
    { name: 'keydb', connect: () => redisClient() },
  ]
  if (process.env.KEYDB_CLUSTER_NODES) clients.push({ name: 'cluster', connect: clusterClient })
  it.each(clients)(
    'even when its lock acquire is answered after the deadline: the server took the lock and created the generation ($name)',
    async ({ connect }) => {
      const client = await connect()
      const store = await keydbStore(client)
      // Fault injection: the server runs the acquire at once, its reply reaches us past the deadline
      // (a loaded machine, a slow link), so the fill does not know the generation its acquire created.
      const scripts = client as unknown as { fkAcquire: (...args: unknown[]) => Promise<unknown> }
      const acquire = scripts.fkAcquire.bind(client)
      scripts.fkAcquire = async (...args) => {
        const reply = await acquire(...args)
        await sleep(DEADLINE_MS + 50)
        return reply
      }
      const cache = cacheOn(store)
      await cache.ready()
      const errors: string[] = []
      cache.events.on('error', (e) => errors.push(e.operation))
      for (let i = 0; i < 5; i++) expect(await cache.getOrSet(`late-${i}`, async () => i)).toBe(i)
      await cache.drain()
      expect(errors).toContain('lock') // the fault happened
      expect(await keysUnder(client, `${store.keyPrefix}:`)).toEqual([])
    },
  )
})

describe('a fill stored between a lookup and its lock acquire', () => {
  const kits = [keydbKit('keydb', () => redisClient())]
  if (process.env.KEYDB_CLUSTER_NODES) kits.push(keydbKit('cluster', clusterClient))
  it.each(kits)(
    'is served, not loaded again: the lock of a cold miss is taken only while the key is empty ($name)',
    async (kit) => {
      const { store: real } = await kit.make()
      // Fault injection: B's lookup has its answer (a miss) but is held until A's fill is stored
      // and its lock released, as a busy event loop holds a reply (the bench's stampede: 2 origin
      // calls on one process, up to 6 on three).
      const aDone = deferred()
      const { store: storeB, arm } = holdingNextRead(real, aDone.promise)
      arm()
      const a = cacheOn(kit.twin(real))
      const b = cacheOn(storeB)
      await Promise.all([a.ready(), b.ready()])
      let loads = 0
      const readingB = b.getOrSet('k', async () => ++loads)
      await sleep(20) // B's lookup is answered (a miss) and held
      expect(await a.getOrSet('k', async () => ++loads)).toBe(1)
      await a.drain()
      aDone.resolve()
      expect(await readingB).toBe(1)
      expect(loads).toBe(1)
    },
  )
})
