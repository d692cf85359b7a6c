import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { parseReplicationInfo, readTopology } from '@fastkey/fastify-cache/extension'
import { busOf } from '@fastkey/fastify-cache/testing'
import { clusterNodes, startRedisServer } from '@fastkey/test-services'
import type { Cluster, Redis } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import { REPLICATED_CLOCK_SKEW_MS } from '../src/clock-skew.js'
import { createTagProvider, type TagProviderOptions } from '../src/index.js'
import { clusterClient, redisClient, sleep } from './helpers.js'

// The default clockSkewMs follows the topology (issue 13 item 6): 0 where a version and the TIME it is
// compared with always come from one server's clock, a margin where another server may take over.

async function provider(client: Redis | Cluster, options: TagProviderOptions = {}) {
  const store = new KeydbStore({ client, keyPrefix: `skew-${Math.random().toString(16).slice(2, 10)}` })
  const tags = createTagProvider(options)
  const cache = new Cache({ store, tags })
  onTestFinished(async () => {
    await cache.close()
    await store.close()
    await client.del(store.keyPrefix.concat(':tmark')).catch(() => {})
  })
  return { cache, tags, store }
}

async function replicatedPair(): Promise<{ master: Redis; replica: Redis }> {
  const masterServer = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] })
  onTestFinished(() => masterServer.stop())
  const replicaServer = await startRedisServer({
    args: ['--replicaof', '127.0.0.1', String(masterServer.port)],
  })
  onTestFinished(() => replicaServer.stop())
  const master = await redisClient(masterServer.url)
  const replica = await redisClient(replicaServer.url)
  for (let i = 0; i < 200 && !(await master.info('replication')).includes('connected_slaves:1'); i++)
    await sleep(25)
  return { master, replica }
}

describe('default clockSkewMs from the topology', () => {
  it('a master without replicas: 0, once the server answered (the margin until then)', async () => {
    const client = await redisClient()
    const expected =
      parseReplicationInfo(await client.info('replication')).replicas === 0 ? 0 : REPLICATED_CLOCK_SKEW_MS
    const { tags } = await provider(client)
    expect(tags.clockSkewMs).toBe(REPLICATED_CLOCK_SKEW_MS) // not asked yet: conservative
    await tags.ready()
    expect(tags.clockSkewMs).toBe(expected)
    expect(tags.topology).toBe(expected === 0 ? 'single-master' : 'replicated')
  })

  it.skipIf(!clusterNodes())('a cluster: 0 only when no master has a replica', async () => {
    const client = await clusterClient()
    const infos = await Promise.all(client.nodes('master').map((node) => node.info('replication')))
    const expected = infos.every((info) => parseReplicationInfo(info).replicas === 0)
      ? 0
      : REPLICATED_CLOCK_SKEW_MS
    const { tags } = await provider(client)
    await tags.ready()
    expect(tags.clockSkewMs).toBe(expected)
  })

  it('a master with a replica, or the replica itself: the margin', async () => {
    const { master, replica } = await replicatedPair()
    expect(await readTopology(master, 1_000)).toBe('replicated')
    const onMaster = await provider(master)
    const onReplica = await provider(replica)
    await Promise.all([onMaster.tags.ready(), onReplica.tags.ready()])
    expect(onMaster.tags.clockSkewMs).toBe(REPLICATED_CLOCK_SKEW_MS)
    expect(onMaster.tags.topology).toBe('replicated')
    expect(onReplica.tags.clockSkewMs).toBe(REPLICATED_CLOCK_SKEW_MS)
  })

  it('the option wins over the topology', async () => {
    const { master } = await replicatedPair()
    const { tags } = await provider(master, { clockSkewMs: 0 })
    await tags.ready()
    expect(tags.clockSkewMs).toBe(0)
    expect(tags.topology).toBeUndefined()
    const plain = await provider(await redisClient(), { clockSkewMs: 250 })
    await plain.tags.ready()
    expect(plain.tags.clockSkewMs).toBe(250)
  })

  it('asked again after the bus reconnects: a replica attached meanwhile brings the margin back', async () => {
    const masterServer = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] })
    onTestFinished(() => masterServer.stop())
    const master = await redisClient(masterServer.url)
    const { cache, tags } = await provider(master)
    await tags.ready()
    expect(tags.clockSkewMs).toBe(0)
    const replicaServer = await startRedisServer({
      args: ['--replicaof', '127.0.0.1', String(masterServer.port)],
    })
    onTestFinished(() => replicaServer.stop())
    for (let i = 0; i < 200 && !(await master.info('replication')).includes('connected_slaves:1'); i++)
      await sleep(25)
    await master.call('CLIENT', 'KILL', 'TYPE', 'pubsub') // the bus drops and resubscribes
    for (let i = 0; i < 200 && tags.clockSkewMs === 0; i++) await sleep(25)
    expect(tags.clockSkewMs).toBe(REPLICATED_CLOCK_SKEW_MS)
    // The topology answer can come back before the bus heard its own first heartbeat (it is trusted
    // only then): wait for that proof, a round trip or two, rather than read it at one instant.
    for (let i = 0; i < 200 && !busOf(cache).healthy; i++) await sleep(25)
    expect(busOf(cache).healthy).toBe(true)
  })
})
