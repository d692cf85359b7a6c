/**
 * Child process for the memory figure: `memory.ts fill|read <json options>`.
 *   fill: writes `count` ~1 KB entries into KeyDB through the engine (no L1).
 *   read: reads them all through an engine whose L1 has `maxBytes`, then reports memory after GC.
 * Run with --expose-gc. Prints one JSON line.
 */
import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { Redis } from 'ioredis'
import { makeItem } from './item.js'

interface Options {
  redisUrl: string
  namespace: string
  count: number
  maxBytes?: number
}

const [command, raw] = process.argv.slice(2)
const o = JSON.parse(raw!) as Options
const client = new Redis(o.redisUrl)
const BATCH = 500
// Throughput is not measured here: a generous deadline keeps a busy machine from dropping reads.
const commandTimeoutMs = 5_000

function snapshot() {
  globalThis.gc?.()
  globalThis.gc?.()
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
}

async function inBatches(count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    const jobs: Promise<unknown>[] = []
    for (let i = start; i < Math.min(count, start + BATCH); i++) jobs.push(fn(i))
    await Promise.all(jobs)
  }
}

async function fill() {
  const store = new KeydbStore({ client, keyPrefix: o.namespace, commandTimeoutMs })
  const cache = new Cache({ store, ttlMs: 600_000 })
  const template = makeItem(1)
  let written = 0
  await inBatches(o.count, async (i) => {
    if (await cache.set(`item:${i}`, { ...template, id: i, sku: `SKU-${i}` })) written++
  })
  await cache.close()
  await store.close()
  return { written }
}

async function read() {
  const store = new KeydbStore({ client, keyPrefix: o.namespace, commandTimeoutMs })
  const cache = new Cache({
    store,
    ttlMs: 600_000,
    // Entries are bounded by bytes here, not by count.
    l1: { maxEntries: 10_000_000, maxBytes: o.maxBytes!, ttlMs: 600_000 },
  })
  // Reads that overlap the bus subscription's first reset are (rightly) not kept in L1: start after it.
  await cache.ready(2_000)
  await new Promise((r) => setTimeout(r, 50))
  const before = snapshot()
  let found = 0
  await inBatches(o.count, async (i) => {
    if ((await cache.get(`item:${i}`)) !== undefined) found++
  })
  const after = snapshot()
  const l1 = cache.l1Stats
  await cache.close()
  await store.close()
  return { found, maxBytes: o.maxBytes, l1, before, after }
}

const result = command === 'fill' ? await fill() : await read()
client.disconnect()
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0))
