import { eventually, type RedisProcess, startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Cache, KeydbStore } from '../src/index.js'
import { onlineReplicas } from '../src/stores/replicas.js'

// Invalidations and replicas (issue 13 item 4): an invalidation resolves only once every replica
// attached to the master has applied it (WAIT). Here a real replica of a throwaway master; frozen
// (SIGSTOP), it stands for a cut replication link or a lagging KeyDB active replica.

/** A connection as fastify-keydb makes them (no offline queue), connected. */
async function client(server: RedisProcess): Promise<Redis> {
  const c = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true })
  c.on('error', () => {})
  onTestFinished(() => c.disconnect())
  await c.connect()
  return c
}

async function startPair(): Promise<{ master: RedisProcess; replica: RedisProcess }> {
  const master = await startRedisServer()
  onTestFinished(() => master.stop())
  const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] })
  onTestFinished(() => replica.stop())
  const admin = await client(replica)
  const linked = await eventually(
    async () => (await admin.info('replication')).includes('master_link_status:up'),
    10_000,
  )
  expect(linked).toBe(true)
  // And the master counts it online (its first acknowledgement arrived): what invalidations wait for.
  const masterAdmin = await client(master)
  expect(
    await eventually(async () => onlineReplicas(await masterAdmin.info('replication')) === 1, 10_000),
  ).toBe(true)
  return { master, replica }
}

describe('invalidations wait for the replicas', () => {
  it('resolve once the replica applied them; a frozen replica keeps them pending until it is back', async () => {
    const { master, replica } = await startPair()
    const keyPrefix = `replicas-${Math.random().toString(36).slice(2, 8)}`
    const store = new KeydbStore({ client: await client(master), keyPrefix, replicaAckMs: 500 })
    const cache = new Cache({ store, ttlMs: 60_000 })
    onTestFinished(() => cache.close())
    await cache.ready()
    const onReplica = await client(replica)
    const entry = store.entryKey('product')

    await cache.set('product', 'v1')
    await store.awaitReplicas()
    expect(await onReplica.exists(entry)).toBe(1)
    // Healthy link: when delete() resolves, the replica no longer has the entry.
    await cache.delete('product')
    expect(await onReplica.exists(entry)).toBe(0)

    await cache.set('product', 'v2')
    await store.awaitReplicas()
    await replica.pause()
    const startedAt = performance.now()
    await expect(cache.delete('product')).rejects.toMatchObject({
      code: 'FST_CACHE_INVALIDATION_PENDING',
      cause: { code: 'FST_CACHE_STORE_REPLICATION' },
    })
    const tookMs = performance.now() - startedAt
    expect(tookMs).toBeGreaterThanOrEqual(490) // it waited replicaAckMs for the replica...
    expect(tookMs).toBeLessThan(2_000) // ...and not much longer
    expect(cache.pendingInvalidations).toMatchObject({ keys: 1 })
    // Meanwhile the master has it deleted; this instance goes to the origin rather than its tiers.
    expect(await (await client(master)).exists(entry)).toBe(0)

    await replica.resume()
    // The retry replays the delete and, this time, the replica confirms it.
    expect(await eventually(() => cache.pendingInvalidations.keys === 0, 5_000)).toBe(true)
    expect(await onReplica.exists(entry)).toBe(0)
    await cache.set('product', 'v3')
    expect(await cache.get('product')).toBe('v3')
  })

  it('a master without replicas costs no wait; replicaAckMs 0 turns the wait off', async () => {
    const master = await startRedisServer()
    onTestFinished(() => master.stop())
    const admin = await client(master)
    for (const replicaAckMs of [100, 0]) {
      const store = new KeydbStore({
        client: await client(master),
        keyPrefix: `noreplica-${replicaAckMs}`,
        replicaAckMs,
      })
      const cache = new Cache({ store, ttlMs: 60_000 })
      onTestFinished(() => cache.close())
      await cache.ready()
      await cache.set('k', 'v')
      const startedAt = performance.now()
      await cache.delete('k')
      expect(performance.now() - startedAt).toBeLessThan(50)
      expect(await admin.exists(store.entryKey('k'))).toBe(0)
    }
  })

  it('rejects a replicaAckMs that is not a whole number of ms', () => {
    const c = new Redis({ lazyConnect: true })
    onTestFinished(() => c.disconnect())
    expect(() => new KeydbStore({ client: c, replicaAckMs: 1.5 })).toThrow(/replicaAckMs/)
    expect(() => new KeydbStore({ client: c, replicaAckMs: -1 })).toThrow(/replicaAckMs/)
  })

  it('waits only for replicas online: one in its initial sync gets a snapshot taken after the write', () => {
    const info = [
      '# Replication',
      'role:master',
      'connected_slaves:3',
      'slave0:ip=127.0.0.1,port=7001,state=online,offset=420,lag=0',
      'slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=0,lag=0',
      'slave2:ip=127.0.0.1,port=7003,state=online,offset=420,lag=1',
      'master_replid:0123',
    ].join('\r\n')
    expect(onlineReplicas(info)).toBe(2)
    expect(onlineReplicas('# Replication\r\nrole:master\r\nconnected_slaves:0\r\n')).toBe(0)
  })
})
