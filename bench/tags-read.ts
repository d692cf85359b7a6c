/**
 * Read-path cost of tag checks (@fastkey/cache-tags): throughput of `getOrSet` hits on entries with
 * no tags, 1 tag and 5 tags (versions memoised, the default), and 1 tag with memoisation off
 * (`versionTtlMs: 0`: one more round trip per read), through the store (L1 off) and through L1.
 *
 *   cd bench && node --conditions=@fastkey/source --import tsx tags-read.ts [--seconds 2]
 *     [--rounds 5] [--concurrency 50] [--url redis://127.0.0.1:6379]
 *
 * In process, on the local Redis under its own prefix (removed at the end). Variants run in turn,
 * in a rotating order each round, and the median of the rounds is reported: a drift of the machine's
 * load (it is shared) hits every variant alike.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createTagProvider } from '@fastkey/cache-tags'
import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { Redis } from 'ioredis'
import { recordedOf } from './src/tags.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '50' },
    url: { type: 'string', default: process.env.KEYDB_URL ?? 'redis://127.0.0.1:6379' },
  },
})
const DURATION_MS = Number(values.seconds) * 1000
const ROUNDS = Number(values.rounds)
const CONCURRENCY = Number(values.concurrency)
const KEYS = 100

interface Variant {
  name: string
  tags: number
  versionTtlMs?: number
}
const VARIANTS: Variant[] = [
  { name: 'no tags', tags: 0 },
  { name: '1 tag (memoised)', tags: 1 },
  { name: '5 tags (memoised)', tags: 5 },
  { name: '1 tag, versionTtlMs 0', tags: 1, versionTtlMs: 0 },
]

const client = new Redis(values.url)
const namespace = `bench:tags-read:${randomBytes(4).toString('hex')}`
const keys = Array.from({ length: KEYS }, (_, i) => `p${i}`)
const product = { id: 42, name: 'A product with a realistic body', tags: ['a', 'b', 'c'], price: 1999 }

interface Setup {
  variant: Variant
  cache: Cache
  store: KeydbStore
  /** Per key, the options of its calls (built once: the loop must measure the cache, not itself). */
  options: Array<{ tags?: string[] }>
}

async function setup(variant: Variant, l1: boolean): Promise<Setup> {
  const store = new KeydbStore({
    client,
    keyPrefix: `${namespace}:${l1 ? 'l1' : 'store'}:${variant.tags}:${variant.versionTtlMs ?? 'd'}`,
  })
  const tags =
    variant.tags > 0
      ? createTagProvider(variant.versionTtlMs === undefined ? {} : { versionTtlMs: variant.versionTtlMs })
      : undefined
  const cache = new Cache({
    store,
    ttlMs: 3_600_000,
    l1: l1 ? { maxEntries: 1_000 } : false,
    ...(tags && { tags }),
  })
  await cache.ready(3_000)
  const options = Array.from({ length: KEYS }, (_, i) =>
    variant.tags === 0 ? {} : { tags: Array.from({ length: variant.tags }, (_, t) => `t${t}:${i % 10}`) },
  )
  for (let i = 0; i < KEYS; i++) await cache.getOrSet(`p${i}`, async () => product, options[i])
  return { variant, cache, store, options }
}

/**
 * Hits per second of `CONCURRENCY` loops of getOrSet over the keys for DURATION_MS, and this
 * process's CPU time per hit (µs): steadier than throughput on a shared machine, since time spent
 * descheduled by a neighbour is not CPU time.
 */
async function measure(s: Setup): Promise<{ opsPerSecond: number; cpuUs: number }> {
  let ops = 0
  let misses = 0
  const loader = async () => {
    misses++
    return product
  }
  const until = performance.now() + DURATION_MS
  const started = performance.now()
  const cpu = process.cpuUsage()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      let i = w
      while (performance.now() < until) {
        await s.cache.getOrSet(keys[i % KEYS]!, loader, s.options[i % KEYS])
        ops++
        i += 7
      }
    }),
  )
  const used = process.cpuUsage(cpu)
  if (misses > 0) throw new Error(`${s.variant.name}: ${misses} misses, every read should hit`)
  return {
    opsPerSecond: ops / ((performance.now() - started) / 1000),
    cpuUs: (used.user + used.system) / ops,
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** CPU cost of one check of an entry's recorded tags (memoised versions), ns: steadier than ops/s. */
async function checkCost(): Promise<string> {
  const lines = ['| one tag check, in process | ns per read |', '| --- | ---: |']
  for (const count of [1, 5, 20]) {
    const store = new KeydbStore({ client, keyPrefix: `${namespace}:check:${count}` })
    const tags = createTagProvider({ versionTtlMs: 600_000 }) // the loop must stay on memoised versions
    const cache = new Cache({ store, tags })
    await cache.ready(3_000)
    const list = Array.from({ length: count }, (_, t) => `category:${t}:products`)
    const recorded = recordedOf(await tags.seal(await tags.begin(list), list))
    // A store hit decodes a new string each time: copy it so the parse cache pays for hashing it.
    const copies = Array.from({ length: 64 }, () => Buffer.from(recorded).toString())
    const samples: number[] = []
    for (let round = 0; round < 7; round++) {
      const n = 200_000
      const started = process.hrtime.bigint()
      for (let i = 0; i < n; i++)
        if (tags.check(copies[i & 63]!) !== 'valid') throw new Error('should be valid')
      samples.push(Number(process.hrtime.bigint() - started) / n)
    }
    lines.push(`| ${count} tag${count > 1 ? 's' : ''} | ${Math.round(median(samples))} |`)
    await cache.close()
    await store.close()
  }
  return lines.join('\n')
}

const tables: string[] = []
try {
  tables.push(await checkCost())
  for (const l1 of [false, true]) {
    const setups = []
    for (const variant of VARIANTS) setups.push(await setup(variant, l1))
    const results = new Map<string, Array<{ opsPerSecond: number; cpuUs: number }>>(
      VARIANTS.map((v) => [v.name, []]),
    )
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < setups.length; k++) {
        const s = setups[(round + k) % setups.length]!
        results.get(s.variant.name)!.push(await measure(s))
      }
      process.stderr.write(`${l1 ? 'L1' : 'store'} round ${round + 1}/${ROUNDS}\n`)
    }
    const ops = (name: string) => median(results.get(name)!.map((r) => r.opsPerSecond))
    const cpu = (name: string) => median(results.get(name)!.map((r) => r.cpuUs))
    const lines = [
      `| hits through ${l1 ? 'L1' : 'the store (L1 off)'} | ops/s | vs no tags | CPU µs per hit | vs no tags |`,
      '| --- | ---: | ---: | ---: | ---: |',
    ]
    for (const v of VARIANTS) {
      lines.push(
        `| ${v.name} | ${Math.round(ops(v.name)).toLocaleString('en')} | ${(ops(v.name) / ops('no tags')).toFixed(2)} | ${cpu(v.name).toFixed(2)} | ${(cpu(v.name) / cpu('no tags')).toFixed(2)} |`,
      )
    }
    tables.push(lines.join('\n'))
    for (const s of setups) {
      await s.cache.close()
      await s.store.close()
    }
  }
} finally {
  let cursor = '0'
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 5_000)
    cursor = next
    if (found.length > 0) await client.unlink(...found)
  } while (cursor !== '0')
  client.disconnect()
}

console.log(
  `\n${ROUNDS} rounds of ${DURATION_MS} ms per variant, ${CONCURRENCY} concurrent readers over ${KEYS} keys, Redis at ${values.url}, node ${process.version}\n`,
)
console.log(tables.join('\n\n'))
