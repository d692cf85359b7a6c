import { KeydbStore } from '@fastkey/fastify-cache'
import { parseServerInfo } from '@fastkey/fastify-cache/extension'
import {
  cleanupPrefix,
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
import { scripts } from '../src/scripts.js'
import { instance, invalidateEverywhere } from './helpers.js'

// Every reply the tag backend parses, read raw over RESP2 and over RESP3 (ioredis 6's default for a
// client created without options; ioredis 5 only has RESP2), with the exact shapes asserted on each.

const VERSION = /^[ci]\d{16}\.[\w-]+$/

async function standalone(protocol: 2 | 3): Promise<{ client: Redis; prefix: string }> {
  const client = await respClient(await redisUrl(), protocol)
  const prefix = uniquePrefix(`tags-resp${protocol}`)
  onTestFinished(async () => {
    await cleanupPrefix(client, prefix)
    await client.quit()
  })
  return { client, prefix }
}

describe.each(respVersions())('cache-tags replies over RESP%i', (protocol) => {
  test('fktagCapture: one version string per key, then the server time in µs (TIME) as a string', async () => {
    const { client, prefix } = await standalone(protocol)
    const keys = [`${prefix}t:{a}`, `${prefix}t:{a}:s`]
    const first = (await client.eval(scripts.fktagCapture, 2, ...keys, 'sfx', 60_000)) as unknown[]
    expect(first).toHaveLength(3)
    expect(first[0]).toMatch(VERSION)
    expect(first[1]).toMatch(VERSION)
    expect(first[2]).toMatch(/^\d{16}$/)
    const again = (await client.eval(scripts.fktagCapture, 2, ...keys, 'other', 60_000)) as unknown[]
    expect(again.slice(0, 2)).toEqual(first.slice(0, 2))
    expect(Number(again[2])).toBeGreaterThanOrEqual(Number(first[2]))
  })

  test('fktagInvalidate: the new version string; MGET: strings and nil for an unset key', async () => {
    const { client, prefix } = await standalone(protocol)
    const hard = `${prefix}t:{b}`
    const version = await client.eval(scripts.fktagInvalidate, 1, hard, 'sfx', 60_000)
    expect(version).toMatch(/^i\d{16}\.sfx$/)
    expect(await client.mget(hard, `${prefix}t:{b}:s`)).toEqual([version, null])
  })

  test('INFO server: text that the KeyDB detection reads the same way', async () => {
    const { client } = await standalone(protocol)
    const info = await client.info('server')
    expect(typeof info).toBe('string')
    expect(info).toMatch(/^# Server\r\n/)
    expect(info).toMatch(/^redis_version:\d+\.\d+/m)
    // Expected value from the server itself: KeyDB has an `INFO keydb` section, Redis prints nothing.
    const keydbSection = await client.info('keydb')
    expect(parseServerInfo(info).server === 'keydb').toBe(keydbSection.trim() !== '')
  })

  test('SSCAN: [cursor string, member strings]; RENAME: OK', async () => {
    const { client, prefix } = await standalone(protocol)
    await client.sadd(`${prefix}ti:{c}`, 'm1', 'm2')
    expect(await client.rename(`${prefix}ti:{c}`, `${prefix}ti:{c}:purge`)).toBe('OK')
    const [cursor, members] = await client.sscan(`${prefix}ti:{c}:purge`, '0', 'COUNT', 256)
    expect(cursor).toBe('0')
    expect([...members].sort()).toEqual(['m1', 'm2'])
  })

  test('tag invalidation works end to end on this protocol', async () => {
    await invalidationRoundTrip(await standalone(protocol), async () =>
      respClient(await redisUrl(), protocol),
    )
  })
})

/** Two instances on their own connections: fill with tags, invalidate through one, both miss. */
async function invalidationRoundTrip(
  { client, prefix }: { client: Redis | Cluster; prefix: string },
  subscriberFor: () => Promise<Redis | Cluster>,
): Promise<void> {
  const storeFor = async () => {
    const subscriber = await subscriberFor()
    onTestFinished(() => subscriber.disconnect())
    const store = new KeydbStore({
      client,
      subscriber,
      keyPrefix: prefix.slice(0, -1),
      commandTimeoutMs: 2_000,
    })
    onTestFinished(() => store.close())
    return store
  }
  const a = await instance(await storeFor(), { l1: { maxEntries: 100 } })
  const b = await instance(await storeFor(), { l1: { maxEntries: 100 } })
  await a.cache.set('tv', 'tv', { tags: ['cat:tv'] })
  await a.cache.set('radio', 'radio', { tags: ['cat:radio'] })
  expect(await b.cache.get('tv')).toBe('tv')
  await invalidateEverywhere(a, [b], ['cat:tv'])
  for (const x of [a, b]) {
    expect(await x.cache.get('tv')).toBeUndefined()
    expect(await x.cache.get('radio')).toBe('radio')
  }
}

const nodes = clusterNodes()
if (!nodes) warnClusterSkipped('@fastkey/cache-tags replies (cluster)')

describe.skipIf(!nodes).each(respVersions())('cache-tags on a cluster over RESP%i', (protocol) => {
  test('tag invalidation works end to end across slots', async () => {
    const cluster = await respCluster(nodes ?? [], protocol)
    const prefix = uniquePrefix(`tags-resp${protocol}-cluster`)
    onTestFinished(async () => {
      await cleanupPrefix(cluster, prefix)
      await cluster.quit()
    })
    await invalidationRoundTrip({ client: cluster, prefix }, async () => cluster.duplicate())
  })
})
