import { prewarm, type ServerSpec } from './http-bench.js'
import type { Loader } from './load.js'
import { startServer } from './proc.js'
import { median } from './stats.js'

export interface RssSample {
  /** Seconds of load so far. */
  atS: number
  rssMiB: number
  heapMiB: number
  externalMiB: number
  rps: number
  l1Entries: number
}

export interface RssResult {
  mode: string
  keys: number
  connections: number
  minutes: number
  samples: RssSample[]
  /**
   * Median RSS of the second half of the run ÷ median of the first half (the first minute, the
   * warm-up of the heap and read buffers, left out). Samples are not taken after a forced GC, so
   * single samples swing with the collector; medians of halves show a trend.
   */
  growth: number
}

/**
 * `--only rss`: hits on `keys` distinct ids for `minutes` (fastkey with an L1, so both tiers serve:
 * the L1 keeps an entry at most l1.ttlMs, then it is read from KeyDB again), the server's RSS,
 * heap and external memory sampled every `everyS` seconds. Not in the default run (10 minutes).
 */
export async function rssFlatness(o: {
  token: string
  load: Loader
  log(line: string): void
  keys: number
  connections: number
  minutes: number
  everyS: number
  redisUrl: string
  serverCpu: number
  loadCpu: number
}): Promise<RssResult> {
  const mode = 'fk-l1'
  const server = await startServer(
    mode,
    [
      '--mode',
      mode,
      '--prefix',
      `${o.token}-rss`,
      '--redis',
      o.redisUrl,
      '--keys',
      String(o.keys),
      '--ttl',
      '7200000',
    ],
    { cpu: o.serverCpu },
  )
  const spec: ServerSpec = {
    name: mode,
    label: mode,
    group: 'fastkey',
    args: [],
    path: '/item/',
    fastkey: true,
    maxKeys: o.keys,
    countsOrigin: true,
  }
  const samples: RssSample[] = []
  try {
    await prewarm(server, spec, o.loadCpu)
    const mib = (b: number) => b / 2 ** 20
    const total = o.minutes * 60
    for (let at = 0; at < total; at += o.everyS) {
      const r = await o.load({
        url: server.url,
        keys: o.keys,
        durationS: o.everyS,
        connections: o.connections,
        cpu: o.loadCpu,
      })
      const s = (await (await fetch(`${server.url}/__bench`)).json()) as {
        memory: NodeJS.MemoryUsage
        l1: { entries: number } | null
      }
      samples.push({
        atS: at + o.everyS,
        rssMiB: mib(s.memory.rss),
        heapMiB: mib(s.memory.heapUsed),
        externalMiB: mib(s.memory.external + s.memory.arrayBuffers),
        rps: r.rps,
        l1Entries: s.l1?.entries ?? 0,
      })
      o.log(
        `  ${at + o.everyS} s: RSS ${mib(s.memory.rss).toFixed(1)} MiB, heap ${mib(s.memory.heapUsed).toFixed(1)} MiB, ${Math.round(r.rps)} req/s`,
      )
    }
  } finally {
    await server.stop()
  }
  const settled = samples.filter((s) => s.atS >= 60)
  const half = Math.floor(settled.length / 2)
  const rssOf = (xs: RssSample[]) => median(xs.map((s) => s.rssMiB))
  return {
    mode,
    keys: o.keys,
    connections: o.connections,
    minutes: o.minutes,
    samples,
    growth: rssOf(settled.slice(half)) / rssOf(settled.slice(0, half)),
  }
}
