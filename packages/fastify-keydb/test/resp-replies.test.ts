import type { EventEmitter } from 'node:events'
import {
  clusterNodes,
  redisUrl,
  respClient,
  respCluster,
  respVersions,
  uniquePrefix,
  warnClusterSkipped,
} from '@fastkey/test-services'
import type { Cluster, Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { detectCapabilities, parseServerInfo } from '../src/index.js'
import { appWith } from './helpers.js'

// What the plugin parses (INFO text, pub/sub events) and the CLUSTER replies, over RESP2 and RESP3:
// a client injected with `client` is RESP3 on ioredis 6 unless its owner chose otherwise.

function nextMessage(subscriber: EventEmitter, channel: string): Promise<unknown[]> {
  return new Promise((resolve) => {
    const onMessage = (...args: unknown[]) => {
      if (args[0] !== channel) return
      subscriber.off('message', onMessage)
      resolve(args)
    }
    subscriber.on('message', onMessage)
  })
}

describe.each(respVersions())('fastify-keydb over RESP%i', (protocol) => {
  test('an injected client: INFO parsed, capabilities and health, subscriber() messages are strings', async () => {
    const client = await respClient(await redisUrl(), protocol)
    onTestFinished(() => client.disconnect())
    const info = await client.info('server')
    expect(typeof info).toBe('string')
    // The kind comes from the server itself: KeyDB has an `INFO keydb` section, Redis prints nothing.
    const expected = (await client.info('keydb')).trim() === '' ? 'redis' : 'keydb'
    expect(parseServerInfo(info)).toMatchObject({
      server: expected,
      version: expect.stringMatching(/^\d+\./),
    })
    expect(await detectCapabilities(client)).toMatchObject({ server: expected, mode: 'standalone' })
    const { app } = await appWith({ client })
    expect(app.keydb.capabilities.server).toBe(expected)
    expect(await app.keydb.health()).toMatchObject({ ok: true, server: expected })
    const subscriber = app.keydb.subscriber()
    const channel = `${uniquePrefix(`resp${protocol}`)}bus`
    await subscriber.subscribe(channel)
    const received = nextMessage(subscriber, channel)
    expect(await app.keydb.publish(channel, 'ping')).toBe(1)
    expect(await received).toEqual([channel, 'ping'])
  })
})

const nodes = clusterNodes()
if (!nodes) warnClusterSkipped('@fastkey/fastify-keydb replies (cluster)')

describe.skipIf(!nodes)('fastify-keydb on a cluster over RESP2 and RESP3', () => {
  const clusters = async () => {
    const made = await Promise.all(respVersions().map((p) => respCluster(nodes ?? [], p)))
    onTestFinished(() => {
      for (const cluster of made) cluster.disconnect()
    })
    return made
  }

  test('CLUSTER INFO text and CLUSTER SLOTS arrays have the same shape on every protocol', async () => {
    const replies = await Promise.all(
      (await clusters()).map(async (cluster) => {
        const master = cluster.nodes('master')[0] as Redis
        return {
          info: (await master.cluster('INFO')) as unknown,
          slots: (await master.cluster('SLOTS')) as unknown,
        }
      }),
    )
    for (const { info, slots } of replies) {
      expect(typeof info).toBe('string')
      expect(info).toMatch(/^cluster_state:ok\r?$/m)
      expect(Array.isArray(slots)).toBe(true)
      // [start, end, [host, port, id, ...], ...replicas]
      for (const range of slots as unknown[][]) {
        expect(typeof range[0]).toBe('number')
        expect(typeof range[1]).toBe('number')
        expect(range[2]).toEqual([
          expect.any(String),
          expect.any(Number),
          expect.any(String),
          ...(range[2] as unknown[]).slice(3),
        ])
      }
    }
    for (const { slots } of replies.slice(1)) expect(slots).toEqual(replies[0]!.slots)
  })

  test.each(respVersions())(
    'an injected RESP%i cluster: capabilities, subscriber() messages',
    async (protocol) => {
      const cluster = await respCluster(nodes ?? [], protocol)
      onTestFinished(() => cluster.disconnect())
      const { app } = await appWith({ client: cluster as unknown as Cluster })
      expect(app.keydb.capabilities).toMatchObject({
        server: expect.stringMatching(/^(redis|keydb)$/),
        mode: 'cluster',
      })
      const subscriber = app.keydb.subscriber()
      const channel = `${uniquePrefix(`resp${protocol}-cluster`)}bus`
      await subscriber.subscribe(channel)
      const received = nextMessage(subscriber, channel)
      // The count is that of the node the PUBLISH went to; the cluster bus carries it to the others.
      await app.keydb.publish(channel, 'ping')
      expect(await received).toEqual([channel, 'ping'])
    },
  )
})
