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
import { KeydbStore } from '../src/index.js'
import { scripts } from '../src/stores/keydb-scripts.js'

// Every reply the KeyDB store parses, read raw over RESP2 and over RESP3 (ioredis 6 speaks RESP3 by
// default, so a client handed to the store is RESP3 unless its owner chose otherwise; ioredis 5 only
// has RESP2). The exact shapes are asserted on each protocol, so a protocol that changes one fails.

async function standalone(protocol: 2 | 3): Promise<{ client: Redis; prefix: string }> {
  const client = await respClient(await redisUrl(), protocol)
  const prefix = uniquePrefix(`resp${protocol}`)
  onTestFinished(async () => {
    await cleanupPrefix(client, prefix)
    await client.quit()
  })
  return { client, prefix }
}

/** Resolves with the next (channel, message) and (channelBuffer, messageBuffer) events. */
function nextMessage(subscriber: Redis | Cluster): Promise<{ text: unknown[]; buffers: unknown[] }> {
  return new Promise((resolve) => {
    let text: unknown[] | undefined
    let buffers: unknown[] | undefined
    const done = () => {
      if (!text || !buffers) return
      subscriber.off('message', onText)
      subscriber.off('messageBuffer', onBuffers)
      resolve({ text, buffers })
    }
    const onText = (...args: unknown[]) => {
      text = args
      done()
    }
    const onBuffers = (...args: unknown[]) => {
      buffers = args
      done()
    }
    subscriber.on('message', onText)
    subscriber.on('messageBuffer', onBuffers)
  })
}

describe.each(respVersions())('fastify-cache replies over RESP%i', (protocol) => {
  test('fkRead (Buffer variant): value Buffer + PTTL integer; nil for a miss and for a foreign type', async () => {
    const { client, prefix } = await standalone(protocol)
    const [hit, persistent, missing, wrongType] = ['hit', 'persistent', 'missing', 'set'].map(
      (k) => `${prefix}{k}${k}`,
    ) as [string, string, string, string]
    await client.set(hit, Buffer.from([0, 255, 10]), 'PX', 10_000)
    await client.set(persistent, 'p')
    await client.sadd(wrongType, 'member')
    await client.pexpire(wrongType, 10_000)
    // The Buffer variant, as the store reads values (ioredis has it at runtime, its types omit it).
    const evalBuffer = (client as unknown as { evalBuffer: (...args: unknown[]) => Promise<unknown> })
      .evalBuffer
    const reply = (await evalBuffer.call(
      client,
      scripts.fkRead,
      4,
      hit,
      persistent,
      missing,
      wrongType,
    )) as unknown[]
    expect(reply).toHaveLength(8)
    expect(Buffer.isBuffer(reply[0]) && (reply[0] as Buffer).equals(Buffer.from([0, 255, 10]))).toBe(true)
    expect(typeof reply[1]).toBe('number')
    expect(reply[1]).toBeGreaterThan(9_000)
    expect(reply[1]).toBeLessThanOrEqual(10_000)
    expect(Buffer.isBuffer(reply[2]) && (reply[2] as Buffer).toString()).toBe('p')
    expect(reply[3]).toBe(-1)
    // A GET of a missing key is `false` in Lua; the script's reply turns it into nil on both
    // protocols (a script replies in RESP2 unless it calls redis.setresp(3)), never a RESP3 boolean.
    expect(reply[4]).toBeNull()
    expect(reply[5]).toBe(-2)
    expect(reply[6]).toBeNull()
    expect(typeof reply[7]).toBe('number')
    expect(reply[7]).toBeGreaterThan(0)
  })

  test('fkAcquire: { 1, generation } then { 0, the same generation }; fkRelease: integers', async () => {
    const { client, prefix } = await standalone(protocol)
    const [lock, generation] = [`${prefix}l:{k}`, `${prefix}g:{k}`]
    const first = await client.eval(scripts.fkAcquire, 2, lock, generation, 'tok', 1_000, 'gen-1', 60_000)
    expect(first).toEqual([1, 'gen-1'])
    const second = await client.eval(scripts.fkAcquire, 2, lock, generation, 'tok-2', 1_000, 'gen-2', 60_000)
    expect(second).toEqual([0, 'gen-1'])
    expect(await client.eval(scripts.fkRelease, 2, lock, generation, 'tok-2', '')).toBe(0)
    expect(await client.eval(scripts.fkRelease, 2, lock, generation, 'tok', 'gen-1')).toBe(1)
    expect(await client.exists(generation)).toBe(0) // the fill ended: its generation is gone
  })

  test('fkGeneration: a string; fkSetIfGeneration and fkDelete: integers', async () => {
    const { client, prefix } = await standalone(protocol)
    const [entry, generation] = [`${prefix}e:{k}`, `${prefix}g:{k}`]
    expect(await client.eval(scripts.fkGeneration, 1, generation, 'gen-a', 60_000)).toBe('gen-a')
    expect(await client.eval(scripts.fkGeneration, 1, generation, 'gen-b', 60_000)).toBe('gen-a')
    expect(await client.eval(scripts.fkSetIfGeneration, 2, entry, generation, 'v', 10_000, 'other')).toBe(0)
    expect(await client.eval(scripts.fkSetIfGeneration, 2, entry, generation, 'v', 10_000, 'gen-a')).toBe(1)
    // The write gave the generation the entry's TTL (10 s here, 60 s before).
    const ttl = await client.pttl(generation)
    expect(ttl).toBeGreaterThan(9_000)
    expect(ttl).toBeLessThanOrEqual(10_000)
    expect(await client.eval(scripts.fkDelete, 2, entry, generation)).toBe(1)
    expect(await client.exists(generation)).toBe(0)
    expect(await client.eval(scripts.fkDelete, 2, entry, generation)).toBe(0)
  })

  test('SCAN: [cursor string, key strings]; UNLINK, PUBLISH: integers', async () => {
    const { client, prefix } = await standalone(protocol)
    await client.set(`${prefix}a`, '1', 'PX', 10_000)
    const [cursor, keys] = await client.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 1_000_000)
    expect(cursor).toBe('0')
    expect(keys).toEqual([`${prefix}a`])
    expect(await client.unlink(`${prefix}a`)).toBe(1)
    expect(await client.publish(`${prefix}nobody`, 'x')).toBe(0)
  })

  test('pub/sub: message events carry strings, messageBuffer events Buffers', async () => {
    const { client, prefix } = await standalone(protocol)
    const subscriber = await respClient(await redisUrl(), protocol)
    onTestFinished(() => subscriber.disconnect())
    const channel = `${prefix}bus`
    await subscriber.subscribe(channel)
    const received = nextMessage(subscriber)
    expect(await client.publish(channel, 'héllo')).toBe(1)
    const { text, buffers } = await received
    expect(text).toEqual([channel, 'héllo'])
    expect(buffers).toEqual([Buffer.from(channel), Buffer.from('héllo')])
  })

  test('the store works end to end on this protocol: fills, locks, deletes, clears, bus', async () => {
    const { client, prefix } = await standalone(protocol)
    const subscriber = await respClient(await redisUrl(), protocol)
    onTestFinished(() => subscriber.disconnect())
    const store = new KeydbStore({
      client,
      subscriber,
      keyPrefix: prefix.slice(0, -1),
      commandTimeoutMs: 2_000,
    })
    onTestFinished(() => store.close())
    await storeRoundTrip(store)
  })
})

/** The store's whole surface once, asserting what each call resolves. */
async function storeRoundTrip(store: KeydbStore): Promise<void> {
  const messages: string[] = []
  let resolveReset: () => void = () => {}
  const reset = new Promise<void>((resolve) => {
    resolveReset = resolve
  })
  const unsubscribe = await store.subscribe({
    message: (m) => messages.push(m),
    reset: () => resolveReset(),
    down: () => {},
  })
  await reset
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
  expect(await store.get('absent')).toBeUndefined()
  for (const key of keys) expect(await store.set(key, Buffer.from(key), 10_000, undefined)).toBe(true)
  const read = await Promise.all(keys.map((key) => store.get(key)))
  expect(read.map((entry) => entry?.value.toString())).toEqual(keys)
  const generation = await store.generation('g')
  expect(typeof generation).toBe('string')
  expect(await store.acquireLock('g', 'tok', 1_000)).toEqual({ acquired: true, generation })
  expect(await store.acquireLock('g', 'tok-2', 1_000)).toEqual({ acquired: false, generation })
  expect(await store.releaseLock('g', 'tok')).toBe(true)
  expect(await store.set('g', Buffer.from('v'), 10_000, generation)).toBe(true)
  expect(await store.delete(['g'])).toBe(1)
  expect(await store.set('g', Buffer.from('late'), 10_000, generation)).toBe(false)
  expect(await store.clear()).toBe(keys.length)
  expect(await store.get('k0')).toBeUndefined()
  await store.publish('invalidate k1')
  for (let i = 0; i < 100 && messages.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
  expect(messages).toEqual(['invalidate k1'])
  await unsubscribe()
}

const nodes = clusterNodes()
if (!nodes) warnClusterSkipped('@fastkey/fastify-cache replies (cluster)')

describe.skipIf(!nodes).each(respVersions())('fastify-cache on a cluster over RESP%i', (protocol) => {
  test('the store works end to end across slots and masters', async () => {
    const cluster = await respCluster(nodes ?? [], protocol)
    const prefix = uniquePrefix(`resp${protocol}-cluster`)
    onTestFinished(async () => {
      await cleanupPrefix(cluster, prefix)
      await cluster.quit()
    })
    const subscriber = cluster.duplicate()
    onTestFinished(() => subscriber.disconnect())
    const store = new KeydbStore({
      client: cluster,
      subscriber,
      keyPrefix: prefix.slice(0, -1),
      commandTimeoutMs: 2_000,
    })
    onTestFinished(() => store.close())
    await storeRoundTrip(store)
  })
})
