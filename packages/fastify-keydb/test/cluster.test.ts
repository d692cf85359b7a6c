import type { EventEmitter } from 'node:events'
import {
  cleanupPrefix,
  clusterNodes,
  clusterServerKind,
  freePort,
  redisUrl,
  uniquePrefix,
  warnClusterSkipped,
} from '@fastkey/test-services'
import { Cluster } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { detectCapabilities, fastifyKeydb } from '../src/index.js'
import { appWith, buildApp, measured, timed } from './helpers.js'

const nodes = clusterNodes()
if (!nodes) warnClusterSkipped('@fastkey/fastify-keydb cluster')

function nextMessage(subscriber: EventEmitter, channel: string): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (ch: string, message: string) => {
      if (ch !== channel) return
      subscriber.off('message', onMessage)
      resolve(message)
    }
    subscriber.on('message', onMessage)
  })
}

describe.skipIf(!nodes)('Redis Cluster', () => {
  const seeds = nodes ?? []

  test('connects, runs commands on several slots, reports mode cluster', async () => {
    const { app } = await appWith({ cluster: { nodes: seeds } })
    expect(app.keydb).toBeInstanceOf(Cluster)
    const prefix = uniquePrefix('cluster')
    onTestFinished(async () => {
      await cleanupPrefix(app.keydb, prefix)
    })
    for (const key of ['a', 'b', 'c', 'd']) await app.keydb.set(`${prefix}${key}`, key, 'PX', 60_000)
    expect(await app.keydb.get(`${prefix}c`)).toBe('c')
    const server = await clusterServerKind()
    expect(app.keydb.capabilities).toMatchObject({ server, mode: 'cluster', ready: true })
    expect(app.keydb.capabilities.version).toMatch(/^\d+\.\d+/)
    expect(await detectCapabilities(app.keydb)).toMatchObject({ server, mode: 'cluster' })
    expect((app.keydb as unknown as Cluster).options.redisOptions).toMatchObject({
      commandTimeout: 500,
      maxRetriesPerRequest: 0,
      disableClientInfo: true,
    })
  })

  test('health() pings the cluster', async () => {
    const { app } = await appWith({ cluster: { nodes: seeds } })
    expect(await app.keydb.health()).toMatchObject({ ok: true, server: await clusterServerKind() })
  })

  test('subscriber() is a dedicated Cluster connection; pub/sub round trip', async () => {
    const { app } = await appWith({ cluster: { nodes: seeds } })
    const subscriber = app.keydb.subscriber()
    expect(subscriber).toBeInstanceOf(Cluster)
    expect(subscriber).not.toBe(app.keydb)
    expect(app.keydb.subscriber()).toBe(subscriber)
    const channel = `${uniquePrefix('cluster-bus')}ch`
    await subscriber.subscribe(channel)
    const received = nextMessage(subscriber, channel)
    await app.keydb.publish(channel, 'hi')
    expect(await received).toBe('hi')
  })

  test("the cluster's own pub/sub still works next to subscriber()", async () => {
    // subscriber() wraps the private pub/sub router of the Cluster object; its own SUBSCRIBE uses it.
    const { app } = await appWith({ cluster: { nodes: seeds } })
    app.keydb.subscriber()
    const cluster = app.keydb as unknown as Cluster
    const publisher = new Cluster(seeds)
    onTestFinished(() => publisher.disconnect())
    const channel = `${uniquePrefix('cluster-own')}ch`
    await cluster.subscribe(channel)
    const received = nextMessage(cluster, channel)
    await publisher.publish(channel, 'own')
    expect(await received).toBe('own')
  })

  test('an injected Cluster can be registered by one app after another', async () => {
    const cluster = new Cluster(seeds)
    onTestFinished(() => cluster.disconnect())
    for (let i = 0; i < 2; i++) {
      const { app } = await appWith({ client: cluster })
      const channel = `${uniquePrefix('cluster-again')}ch`
      const subscriber = app.keydb.subscriber()
      await subscriber.subscribe(channel)
      await cluster.subscribe(`${channel}:own`)
      const received = nextMessage(subscriber, channel)
      await app.keydb.publish(channel, String(i))
      expect(await received).toBe(String(i))
      await app.close()
      expect(subscriber.status).toBe('end')
      expect(cluster.status).toBe('ready')
    }
  })

  test('close quits every node and the subscriber', async () => {
    const { app } = await appWith({ cluster: { nodes: seeds } })
    const subscriber = app.keydb.subscriber()
    await subscriber.subscribe(`${uniquePrefix('cluster-close')}ch`)
    const { ms } = await timed(() => app.close())
    measured('cluster close', ms)
    expect(app.keydb.status).toBe('end')
    expect(subscriber.status).toBe('end')
    expect(ms).toBeLessThan(2_000)
  })

  test('a cluster as a namespace next to a standalone default', async () => {
    const { app } = buildApp()
    app.register(fastifyKeydb, { url: await redisUrl() })
    app.register(fastifyKeydb, { cluster: { nodes: seeds }, namespace: 'shared' })
    await app.ready()
    expect(app.keydb.shared).toBeInstanceOf(Cluster)
    expect(await app.keydb.shared?.ping()).toBe('PONG')
    expect(app.keydb.shared?.capabilities.mode).toBe('cluster')
    expect(app.keydb.capabilities.mode).toBe('standalone')
  })
})

// These need no running cluster: the seed is a port nothing listens on.
describe('cluster seeds unreachable at boot', () => {
  test('the app starts with one warning, commands fail fast, the client keeps trying', async () => {
    const port = await freePort()
    const { app, warnings } = buildApp()
    app.register(fastifyKeydb, { cluster: { nodes: [{ host: '127.0.0.1', port }] }, connectTimeoutMs: 300 })
    const { ms, error } = await timed(() => app.ready())
    expect(error).toBeUndefined()
    expect(ms).toBeLessThan(1_300)
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]?.msg).toContain(`127.0.0.1:${port}`)
    const command = await timed(() => app.keydb.get('k'))
    expect(command.error).toBeInstanceOf(Error)
    expect(command.ms).toBeLessThan(500)
    expect(app.keydb.status).not.toBe('end')
    const closing = await timed(() => app.close())
    expect(closing.ms).toBeLessThan(2_000)
  })

  test('requireOnBoot: true fails with FST_KEYDB_CONNECT_FAILED', async () => {
    const port = await freePort()
    const { app } = buildApp()
    app.register(fastifyKeydb, {
      cluster: { nodes: [{ host: '127.0.0.1', port }] },
      connectTimeoutMs: 300,
      requireOnBoot: true,
    })
    const { ms, error } = await timed(() => app.ready())
    expect(error?.code).toBe('FST_KEYDB_CONNECT_FAILED')
    expect(ms).toBeLessThan(1_300)
  })
})
