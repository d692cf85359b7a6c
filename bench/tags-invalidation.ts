/**
 * Invalidation cost of @fastkey/cache-tags against the number of entries carrying the tag: it should
 * be flat (one single-key write per tag, however many entries). For contrast, the cost of actually
 * unlinking the same entries through a reference set (what the optional KeyDB member index does to
 * free memory at once, and what reference-set tag schemes do on every invalidation).
 *
 *   cd bench && node --conditions=@fastkey/source --import tsx tags-invalidation.ts [--runs 9]
 *     [--sizes 10,10000,100000] [--url redis://127.0.0.1:6379]
 *
 * Runs on the local Redis under its own prefix, removed at the end. Entries are written directly
 * (the recorded versions come from the provider's own seal), so filling 100k takes a second, not a
 * minute; each run refills them so that every invalidation hits live, valid entries.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createTagProvider } from '@fastkey/cache-tags'
import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { encodeEntry } from '@fastkey/fastify-cache/extension'
import { Redis } from 'ioredis'
// Not exported by the package (an internal of the KeyDB member index): imported from its source.
import { MemberIndex } from '../packages/cache-tags/src/member-index.js'
import { recordedOf } from './src/tags.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    sizes: { type: 'string', default: '10,10000,100000' },
    url: { type: 'string', default: process.env.KEYDB_URL ?? 'redis://127.0.0.1:6379' },
  },
})
const RUNS = Number(values.runs)
const SIZES = values.sizes.split(',').map(Number)
const TTL_MS = 600_000
const PIPELINE = 2_000

const client = new Redis(values.url)
const namespace = `bench:tags:${randomBytes(4).toString('hex')}`
const store = new KeydbStore({ client, keyPrefix: namespace })
const tags = createTagProvider()
const cache = new Cache({ store, tags })
await cache.ready()

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Writes `n` entries carrying `tag` at its current versions, as fills would. */
async function fill(tag: string, n: number): Promise<string[]> {
  const recorded = recordedOf(await tags.seal(await tags.begin([tag]), [tag]))
  const value = encodeEntry({
    status: 200,
    contentType: 'application/json',
    etag: '',
    tags: recorded,
    freshMs: TTL_MS,
    staleMs: 0,
    graceMs: 0,
    loadMs: 0,
    headers: {},
    negative: false,
    body: Buffer.from(JSON.stringify({ id: 1, name: 'a product of a realistic size', price: 1999 })),
  })
  const keys: string[] = []
  for (let i = 0; i < n; i += PIPELINE) {
    const pipeline = client.pipeline()
    for (let j = i; j < Math.min(n, i + PIPELINE); j++) {
      const key = `${tag}:list:${j}`
      keys.push(key)
      pipeline.set(store.entryKey(key), value, 'PX', TTL_MS)
    }
    await pipeline.exec()
  }
  return keys
}

/** Lets the fill's garbage and sockets settle, so a timing measures the invalidation, not the fill. */
async function settle(): Promise<void> {
  ;(globalThis as { gc?: () => void }).gc?.()
  await new Promise((resolve) => setTimeout(resolve, 50))
}

/** Reads a sample of the entries; resolves how many are hits. */
async function hits(keys: string[]): Promise<number> {
  const sample = Array.from({ length: 50 }, (_, i) => keys[Math.floor((i * keys.length) / 50)]!)
  const found = await Promise.all(sample.map((key) => cache.get(key)))
  return found.filter((v) => v !== undefined).length
}

/** The reference-set way: a set of the entry keys, walked and unlinked (SSCAN + UNLINK). */
async function purgeBySet(tag: string, keys: string[]): Promise<number> {
  const index = new MemberIndex(client, namespace, TTL_MS)
  for (let i = 0; i < keys.length; i += PIPELINE)
    await client.sadd(index.key(tag), ...keys.slice(i, i + PIPELINE).map((k) => store.entryKey(k)))
  const started = performance.now()
  await index.purge(tag)
  return performance.now() - started
}

const rows: string[][] = []
try {
  for (const size of SIZES) {
    const tag = `bench${size}`
    const times: number[] = []
    let keys: string[] = []
    for (let run = 0; run < RUNS; run++) {
      keys = await fill(tag, size)
      if ((await hits(keys)) !== 50) throw new Error('entries should be hits before the invalidation')
      await settle()
      const started = performance.now()
      await cache.invalidateTags([tag])
      times.push(performance.now() - started)
      if (process.env.BENCH_VERBOSE)
        process.stderr.write(`${size} run ${run}: ${times.at(-1)!.toFixed(2)} ms\n`)
      if ((await hits(keys)) !== 0) throw new Error('entries must miss after the invalidation')
    }
    const purge = await purgeBySet(tag, keys)
    rows.push([
      size.toLocaleString('en'),
      median(times).toFixed(2),
      Math.min(...times).toFixed(2),
      Math.max(...times).toFixed(2),
      purge.toFixed(1),
    ])
    process.stderr.write(`${size}: done\n`)
  }
} finally {
  await cache.close()
  await store.close()
  let cursor = '0'
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 5_000)
    cursor = next
    if (found.length > 0) await client.unlink(...found)
  } while (cursor !== '0')
  client.disconnect()
}

const header = [
  'entries with the tag',
  'invalidateTags median (ms)',
  'min',
  'max',
  'reference set purge (ms)',
]
console.log(`\n${RUNS} runs per size, Redis at ${values.url}, node ${process.version}\n`)
console.log(`| ${header.join(' | ')} |`)
console.log(`| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`)
for (const row of rows) console.log(`| ${row.join(' | ')} |`)
