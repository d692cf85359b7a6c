import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import postgres from 'postgres'
import { wrkWarm } from './load.js'
import { type ServerProcess, startServer } from './proc.js'

const run = promisify(execFile)
const LUA = fileURLToPath(new URL('./workload.lua', import.meta.url))

export interface WorkloadRow {
  cache: 'keydb' | 'none'
  /** Requests per second offered (each connection waits an exponential time between requests). */
  offeredRps: number
  /** Answered per second at that offer. */
  rps: number
  p50Ms: number
  p99Ms: number
  /**
   * Reads answered HIT or STALE ÷ reads that carry x-cache (the PATCHes excluded, and the featured
   * list: the `@cached` service caches it, its answer says nothing).
   */
  cachedReads: number
  /** The same for product pages, and for list pages. */
  cachedProductReads: number
  cachedListReads: number
  /** Committed + rolled-back transactions per second of the bench database (each query is one). */
  dbTps: number
  patches: number
  errors: number
  /** Closed loop, no wait between requests: the most this machine answered, req/s. */
  saturationRps: number
}

interface WrkOut {
  requests: number
  durationUs: number
  errors: number
  non2xx: number
  patches: number
  hits: number
  misses: number
  uncached: number
  productHits: number
  productMisses: number
  listHits: number
  listMisses: number
  p50Us: number
  p99Us: number
}

async function wrkMix(
  url: string,
  o: { keys: number; connections: number; durationS: number; seed: number; meanDelayMs?: number },
) {
  const { stdout } = await run(
    'wrk',
    ['-t1', `-c${o.connections}`, `-d${o.durationS}s`, '--timeout', '5s', '-s', LUA, url],
    {
      env: {
        ...process.env,
        BENCH_KEYS: String(o.keys),
        BENCH_ZIPF_S: '1.1',
        BENCH_SEED: String(o.seed),
        BENCH_DELAY_MS: String(o.meanDelayMs ?? 0),
        BENCH_HOST: WORKLOAD_HOST,
      },
      timeout: (o.durationS + 60) * 1000,
    },
  )
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`)
  return JSON.parse(line.slice('BENCH_JSON '.length)) as WrkOut
}

/** The Host of every request: the route key includes it, and both instances share one KeyDB. */
const WORKLOAD_HOST = 'shop.workload.test'

/** Seconds of closed-loop load after the measured window: the most this machine answers. */
export const SATURATION_S = 15

/**
 * `pnpm bench --workload`: two demo instances on one KeyDB and one Postgres (10,000 products), a
 * Zipf (s = 1.1) mix of product reads, list routes and 1 % PATCHes from one wrk per instance, with
 * the demo's cache on KeyDB and then off. Each mode starts warm, as a service that has been up for
 * a while (every product read once, then a few seconds of the mix, not counted), is measured at an
 * offered rate of `rps` for `durationS` (latency, reads from the cache, database load), then in a
 * closed loop for SATURATION_S (the most it answers). Database load is read from pg_stat_database
 * (xact_commit + xact_rollback of the bench database).
 */
export async function workload(o: {
  databaseUrl: string
  redisUrl: string
  token: string
  products: number
  durationS: number
  connections: number
  /** Offered requests per second, over both instances. */
  rps: number
  log(line: string): void
}): Promise<WorkloadRow[]> {
  const rows: WorkloadRow[] = []
  const dbName = new URL(o.databaseUrl).pathname.slice(1)
  const sql = postgres(o.databaseUrl, { max: 1, onnotice: () => {} })
  const xacts = async () => {
    // Backends flush their counters at most once a second.
    await new Promise((r) => setTimeout(r, 1500))
    const [row] =
      await sql`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = ${dbName}`
    return Number(row?.n ?? 0)
  }
  const perInstance = Math.round(o.connections / 2)
  // Each connection offers rps / 2 / perInstance requests per second.
  const meanDelayMs = (perInstance * 2 * 1000) / o.rps
  try {
    for (const cache of ['keydb', 'none'] as const) {
      const servers: ServerProcess[] = []
      try {
        for (let i = 0; i < 2; i++) {
          // The first instance seeds (the demo seeds an empty catalogue under a startup lock).
          servers.push(
            await startServer(
              `workload-${cache}-${i}`,
              [
                '--mode',
                'demo',
                '--demo-cache',
                cache,
                '--demo-products',
                String(o.products),
                '--database',
                o.databaseUrl,
                '--prefix',
                `${o.token}-workload`,
                '--redis',
                o.redisUrl,
              ],
              { timeoutMs: 180_000 },
            ),
          )
        }
        // Warm: every product once (the instances share KeyDB), then a few seconds of the mix (JIT, pools).
        const warm = await wrkWarm({
          url: servers[0]!.url,
          path: '/products/',
          keys: o.products,
          connections: 20,
          host: WORKLOAD_HOST,
        })
        if (warm.non2xx > 0) throw new Error(`${warm.non2xx} product reads of the warm-up were not 2xx`)
        await Promise.all(
          servers.map((s, i) =>
            wrkMix(s.url, { keys: o.products, connections: 8, durationS: 3, seed: 100 + i }),
          ),
        )
        const before = await xacts()
        const t0 = performance.now()
        const outs = await Promise.all(
          servers.map((s, i) =>
            wrkMix(s.url, {
              keys: o.products,
              connections: perInstance,
              durationS: o.durationS,
              seed: i + 1,
              meanDelayMs,
            }),
          ),
        )
        const elapsedS = (performance.now() - t0) / 1000
        const after = await xacts()
        const saturated = await Promise.all(
          servers.map((s, i) =>
            wrkMix(s.url, {
              keys: o.products,
              connections: perInstance,
              durationS: SATURATION_S,
              seed: 50 + i,
            }),
          ),
        )
        const sum = (k: keyof WrkOut) => outs.reduce((a, b) => a + b[k], 0)
        const ratio = (hits: number, misses: number) => hits / Math.max(1, hits + misses)
        const row: WorkloadRow = {
          cache,
          offeredRps: o.rps,
          rps: outs.reduce((a, b) => a + b.requests / (b.durationUs / 1e6), 0),
          // Per instance; the worse of the two.
          p50Ms: Math.max(...outs.map((x) => x.p50Us / 1000)),
          p99Ms: Math.max(...outs.map((x) => x.p99Us / 1000)),
          cachedReads: ratio(sum('hits'), sum('misses')),
          cachedProductReads: ratio(sum('productHits'), sum('productMisses')),
          cachedListReads: ratio(sum('listHits'), sum('listMisses')),
          dbTps: (after - before) / elapsedS,
          patches: sum('patches'),
          errors: sum('errors') + sum('non2xx'),
          saturationRps: saturated.reduce((a, b) => a + b.requests / (b.durationUs / 1e6), 0),
        }
        rows.push(row)
        o.log(
          `  cache ${cache}: ${Math.round(row.rps)} req/s answered of ${o.rps} offered, p50 ${row.p50Ms.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms, reads from the cache ${pct(row.cachedReads)} (product pages ${pct(row.cachedProductReads)}, lists ${pct(row.cachedListReads)}), ${Math.round(row.dbTps)} db xact/s, ${row.patches} PATCHes, ${row.errors} errors; closed loop: ${Math.round(row.saturationRps)} req/s`,
        )
      } finally {
        await Promise.all(servers.map((s) => s.stop()))
      }
    }
  } finally {
    await sql.end()
  }
  return rows
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`
}
