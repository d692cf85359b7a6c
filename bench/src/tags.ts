import { createTagProvider } from '@fastkey/cache-tags'
import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { encodeEntry, type SealResult } from '@fastkey/fastify-cache/extension'
import { Redis } from 'ioredis'
import { itemBodies } from './item.js'
import { median } from './stats.js'

/** The recorded versions of a seal the benchmark expects to succeed (no invalidation runs meanwhile). */
export function recordedOf(result: SealResult): string {
  if (!('recorded' in result)) throw new Error(`seal refused: ${result.refused}`)
  return result.recorded
}

export interface TagRow {
  entries: number
  /** cache.invalidateTags([tag]) wall time, ms: median, min, max over runs. */
  medianMs: number
  minMs: number
  maxMs: number
  /** Contrast: unlinking the same entries through a reference set (SSCAN + UNLINK), ms. */
  referenceSetMs: number
  runs: number
}

const TTL_MS = 600_000
const PIPELINE = 2_000

/**
 * Invalidation time of one tag against the number of entries carrying it. Entries are written
 * straight into KeyDB with the versions the provider seals (a real fill would record the same), so
 * 100k entries take a second to write, not a minute of HTTP fills.
 */
export async function tagInvalidation(o: {
  redisUrl: string
  namespace: string
  sizes: number[]
  runs: number
  log(line: string): void
}): Promise<TagRow[]> {
  const client = new Redis(o.redisUrl)
  const store = new KeydbStore({ client, keyPrefix: o.namespace })
  const tags = createTagProvider()
  const cache = new Cache({ store, tags })
  await cache.ready()
  const body = Buffer.from(itemBodies(1)[1]!)
  const rows: TagRow[] = []

  const fill = async (tag: string, n: number): Promise<string[]> => {
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
      body,
    })
    const keys = Array.from({ length: n }, (_, i) => `${tag}:${i}`)
    for (let i = 0; i < n; i += PIPELINE) {
      const pipeline = client.pipeline()
      for (const key of keys.slice(i, i + PIPELINE)) pipeline.set(store.entryKey(key), value, 'PX', TTL_MS)
      await pipeline.exec()
    }
    return keys
  }
  const sampleHits = async (keys: string[]) => {
    const sample = Array.from({ length: 20 }, (_, i) => keys[Math.floor((i * keys.length) / 20)]!)
    return (await Promise.all(sample.map((k) => cache.get(k)))).filter((v) => v !== undefined).length
  }

  try {
    for (const size of o.sizes) {
      const tag = `t${size}`
      const times: number[] = []
      let keys: string[] = []
      for (let run = 0; run < o.runs; run++) {
        keys = await fill(tag, size)
        if ((await sampleHits(keys)) !== 20)
          throw new Error(`tag ${tag}: entries are not hits before invalidating`)
        const started = performance.now()
        await cache.invalidateTags([tag])
        times.push(performance.now() - started)
        if ((await sampleHits(keys)) !== 0)
          throw new Error(`tag ${tag}: entries still hit after invalidating`)
      }
      const referenceSetMs = await referenceSetPurge(
        client,
        `${o.namespace}:refs:${tag}`,
        keys.map((k) => store.entryKey(k)),
      )
      const row = {
        entries: size,
        medianMs: median(times),
        minMs: Math.min(...times),
        maxMs: Math.max(...times),
        referenceSetMs,
        runs: o.runs,
      }
      rows.push(row)
      o.log(
        `  ${size.toLocaleString('en')} entries: invalidateTags ${row.medianMs.toFixed(2)} ms (median of ${o.runs}), reference-set purge ${referenceSetMs.toFixed(1)} ms`,
      )
    }
  } finally {
    await cache.close()
    await store.close()
    client.disconnect()
  }
  return rows
}

/** What reference-set schemes pay per invalidation: walk the set of entry keys and unlink them. */
async function referenceSetPurge(client: Redis, setKey: string, entryKeys: string[]): Promise<number> {
  for (let i = 0; i < entryKeys.length; i += PIPELINE)
    await client.sadd(setKey, ...entryKeys.slice(i, i + PIPELINE))
  const started = performance.now()
  let cursor = '0'
  do {
    const [next, members] = await client.sscan(setKey, cursor, 'COUNT', PIPELINE)
    cursor = next
    if (members.length > 0) await client.unlink(...members)
  } while (cursor !== '0')
  await client.unlink(setKey)
  return performance.now() - started
}
