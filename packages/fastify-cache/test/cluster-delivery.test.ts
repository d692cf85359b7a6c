import { cleanupPrefix, clusterNodes } from '@fastkey/test-services'
import type { Cluster } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Cache, type CacheStore, KeydbStore } from '../src/index.js'
import { busOf } from '../src/testing/index.js'
import { clusterClient, sleep } from './helpers.js'

// A master answers PUBLISH once it handed the message to its own subscribers; it relays it to the
// other masters' subscribers over the cluster bus later. A confirmed message is published on every
// master (KeydbStore.publish everyNode), and the bus drops the repeats. The holding heartbeat a
// rejected delete sends goes to every master too, while A's plain heartbeats go to one and may reach B
// by relay after it: B must not let such an older heartbeat release A (bus/peers.ts, sequence numbers).

describe.skipIf(!clusterNodes())('a confirmed bus message on a cluster', () => {
  it('is known to a peer subscribed on another node by the time it rejects', async () => {
    const keyPrefix = `delivery-${Math.random().toString(36).slice(2, 10)}`
    const fault = { deletes: false }
    const instance = async (faulty: boolean) => {
      const client: Cluster = await clusterClient()
      const real = new KeydbStore({ client, keyPrefix })
      const store: CacheStore = faulty
        ? new Proxy(real, {
            get(target, prop, receiver) {
              const value = Reflect.get(target, prop, receiver)
              if (typeof value !== 'function') return value
              if (prop === 'delete')
                return async (...args: unknown[]) => {
                  if (fault.deletes) throw new Error('the master is frozen')
                  return value.apply(target, args)
                }
              return value.bind(target)
            },
          })
        : real
      const cache = new Cache({ store, l1: { maxEntries: 1_000, ttlMs: 60_000 } })
      onTestFinished(async () => {
        await cache.close()
        await real.close()
        await cleanupPrefix(client, `${keyPrefix}:`)
      })
      await cache.ready()
      return cache
    }
    const a = await instance(true)
    const b = await instance(false)
    await sleep(300)
    const stale: string[] = []
    for (let i = 0; i < 30; i++) {
      const key = `k${i}`
      await a.set(key, 'old', { ttlMs: 60_000 })
      expect(await b.get(key)).toBe('old')
      fault.deletes = true
      const outcome = await a.delete(key).catch((error: { code?: string }) => error.code)
      expect(outcome).toBe('FST_CACHE_INVALIDATION_PENDING')
      // A request reaching B after A answered: B's event loop has polled its sockets at least once
      // (an immediate queued from the check phase runs after the next poll phase).
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
      if ((await b.get(key)) === 'old') stale.push(key)
      fault.deletes = false
      for (let t = 0; t < 200 && a.pendingInvalidations.keys > 0; t++) await sleep(10)
      for (let t = 0; t < 200 && (await b.get('probe', { ttlMs: 1 })) === undefined; t++) {
        await b.set('probe', 1, { ttlMs: 60_000 })
        await sleep(10)
      }
    }
    expect(stale).toEqual([])
  })

  it('is published on every master and heard once by each instance', async () => {
    const keyPrefix = `delivery-${Math.random().toString(36).slice(2, 10)}`
    const client: Cluster = await clusterClient()
    const store = new KeydbStore({ client, keyPrefix })
    const published: string[] = []
    client.nodes('master').forEach((node, i) => {
      const original = node.publish.bind(node)
      node.publish = ((channel: string, message: string) => {
        published.push(`${i}`)
        return original(channel, message)
      }) as typeof node.publish
    })
    const caches = [
      new Cache({ store }),
      new Cache({ store: new KeydbStore({ client: await clusterClient(), keyPrefix }) }),
    ]
    onTestFinished(async () => {
      for (const cache of caches) await cache.close()
      await store.close()
    })
    await Promise.all(caches.map((cache) => cache.ready()))
    const heard = [0, 0]
    caches.forEach((cache, i) => {
      busOf(cache).on('test-kind', () => {
        heard[i]!++
      })
    })
    published.length = 0
    await busOf(caches[0]!).publish('test-kind', 'x', 1_000)
    expect(new Set(published).size).toBe(client.nodes('master').length)
    await sleep(200) // the relayed copies arrive too, and are dropped
    expect(heard).toEqual([1, 1])
  })
})
