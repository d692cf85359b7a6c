import { runNodeJson } from './proc.js'

interface Snapshot {
  rss: number
  heapUsed: number
  arrayBuffers: number
}
interface ReadResult {
  found: number
  l1: { entries: number; bytes: number }
  before: Snapshot
  after: Snapshot
}

export interface MemoryRow {
  entries: number
  maxBytes: number
  /** Bytes of all entries (what an unbounded L1 would hold). */
  totalBytes: number
  found: number
  l1Entries: number
  l1Bytes: number
  rssDelta: number
  heapDelta: number
  /** Growth of Buffer memory (entry bodies live there, outside the JS heap). */
  bufferDelta: number
  rssAfter: number
}

/** Fills `count` entries in KeyDB, then reads them all through an L1 bounded by each `maxBytes`. */
export async function memoryFigure(o: {
  redisUrl: string
  namespace: string
  count: number
  maxBytes: number[]
  log(line: string): void
}): Promise<MemoryRow[]> {
  const base = { redisUrl: o.redisUrl, namespace: o.namespace, count: o.count }
  await runNodeJson('src/memory.ts', ['fill', JSON.stringify(base)])
  const rows: MemoryRow[] = []
  let totalBytes = Number.NaN
  for (const maxBytes of [...o.maxBytes].sort((a, b) => b - a)) {
    const r = await runNodeJson<ReadResult>(
      'src/memory.ts',
      ['read', JSON.stringify({ ...base, maxBytes })],
      {
        nodeFlags: ['--expose-gc'],
      },
    )
    // The largest bound runs first; when it holds every entry, its bytes are the unbounded total.
    if (Number.isNaN(totalBytes))
      totalBytes =
        r.l1.entries >= r.found * 0.99 ? r.l1.bytes * (r.found / r.l1.entries) : Number.POSITIVE_INFINITY
    rows.push({
      entries: o.count,
      maxBytes,
      totalBytes,
      found: r.found,
      l1Entries: r.l1.entries,
      l1Bytes: r.l1.bytes,
      rssDelta: r.after.rss - r.before.rss,
      heapDelta: r.after.heapUsed - r.before.heapUsed,
      bufferDelta: r.after.arrayBuffers - r.before.arrayBuffers,
      rssAfter: r.after.rss,
    })
    o.log(
      `  maxBytes ${(maxBytes / 2 ** 20).toFixed(1)} MiB: L1 ${r.l1.entries} entries, ${(r.l1.bytes / 2 ** 20).toFixed(1)} MiB; RSS ${(r.after.rss / 2 ** 20).toFixed(0)} MiB`,
    )
  }
  return rows.sort((a, b) => a.maxBytes - b.maxBytes)
}
