import type { CellResult, HttpResult, ModeResult } from './http-bench.js'
import type { MemoryRow } from './memory-figure.js'
import type { StampedeRow, SwrResult } from './miss-path.js'
import type { RssResult } from './rss.js'
import { fmt } from './stats.js'
import type { TagRow } from './tags.js'
import type { WorkloadRow } from './workload.js'

export interface Results {
  http?: HttpResult | undefined
  stampede?: StampedeRow[] | undefined
  swr?: SwrResult | undefined
  tags?: TagRow[] | undefined
  memory?: MemoryRow[] | undefined
  rss?: RssResult | undefined
  workload?: WorkloadRow[] | undefined
}

export interface Target {
  name: string
  /** By req/s (the issue's measure); undefined: not measured in this run. */
  met: boolean | undefined
  /** The same target judged by server CPU µs per request, where it applies (steadier when contended). */
  metCpu?: boolean | undefined
  figure: string
}

/** Each peer against the fastkey mode on the same store. */
export const PEER_PAIRS: Array<[peer: string, fastkey: string]> = [
  ['acd-memory', 'fk-l1'],
  ['bento-memory', 'fk-l1'],
  ['bento-l1l2', 'fk-l1'],
  ['acd-redis', 'fk-keydb'],
  ['bento-redis', 'fk-keydb'],
  ['cm-redis', 'fk-keydb'],
]

const x = (v: number) => `${fmt(v, 2)}×`

export function evaluate(r: Results): Target[] {
  const targets: Target[] = []
  const mode = (name: string) => r.http?.modes.find((m) => m.spec.name === name && m.samples.length > 0)
  const cells = r.http?.cells ?? []
  const cellName = (c: CellResult) => `${fmt(c.keys)} keys/${c.connections} conn`
  const modeIn = (c: CellResult, name: string) =>
    c.modes.find((m) => m.spec.name === name && m.samples.length > 0)
  const main = cells.find((c) => c.main)
  /**
   * A floor target judged in every cell of the sweep: met only when every cell meets it. `note`: a
   * figure of the main cell that explains the target's own, appended to it.
   */
  const floorTarget = (name: string, label: string, goal: number, note = '') => {
    const rows = cells.flatMap((c) => {
      const m = modeIn(c, name)
      return m ? [{ c, m }] : []
    })
    const worst = (key: 'ratioToFloor' | 'cpuRatioToFloor') =>
      rows.reduce((a, b) => (b.m[key] < a.m[key] ? b : a), rows[0]!)
    const w = rows.length ? worst('ratioToFloor') : undefined
    const wc = rows.length ? worst('cpuRatioToFloor') : undefined
    const met = rows.filter((row) => row.m.ratioToFloor >= goal).length
    const metCpu = rows.filter((row) => row.m.cpuRatioToFloor >= goal).length
    targets.push({
      name: `${label} ≥ ${goal}× floor, in every cell`,
      met: rows.length ? met === rows.length : undefined,
      metCpu: rows.length ? metCpu === rows.length : undefined,
      figure: rows.length
        ? `met in ${met} of ${rows.length} cells by req/s, ${metCpu} by CPU; worst ${x(w!.m.ratioToFloor)} by req/s (${cellName(w!.c)}), ${x(wc!.m.cpuRatioToFloor)} by CPU (${cellName(wc!.c)}); range ${x(Math.min(...rows.map((row) => row.m.ratioToFloor)))}–${x(Math.max(...rows.map((row) => row.m.ratioToFloor)))}${note}`
        : 'not measured',
    })
  }
  // What fastkey's own code costs, apart from answering in onRequest at all (the reference mode).
  const onRequestRef = main && modeIn(main, 'fk-l1') && modeIn(main, 'floor-onrequest')
  floorTarget(
    'fk-l1',
    'L1 hit',
    0.92,
    onRequestRef
      ? `; in ${cellName(main)} the floor sent from onRequest with the same 3 cache headers is ${x(onRequestRef.ratioToFloor)} (CPU ${x(onRequestRef.cpuRatioToFloor)}), ` +
          `the L1 hit ÷ that reference ${x(main.pairRatio('fk-l1', 'floor-onrequest'))} (CPU ${x(main.pairRatio('fk-l1', 'floor-onrequest', 'cpu'))})`
      : '',
  )
  floorTarget('fk-keydb', 'KeyDB-only hit', 0.85)
  floorTarget('fk-keydb-tags', 'KeyDB hit with tags', 0.8)

  const pairs = cells.flatMap((c) =>
    PEER_PAIRS.filter(([peer, fk]) => modeIn(c, peer) && modeIn(c, fk)).map(([peer, fk]) => ({
      c,
      peer,
      fk,
      ratio: c.pairRatio(fk, peer),
      cpu: c.pairRatio(fk, peer, 'cpu'),
    })),
  )
  const behind = pairs.filter((p) => !(p.ratio > 1))
  const behindCpu = pairs.filter((p) => !(p.cpu > 1))
  targets.push({
    name: 'ahead of every peer on the same store, in every cell',
    met: pairs.length > 0 ? behind.length === 0 : undefined,
    metCpu: pairs.length > 0 ? behindCpu.length === 0 : undefined,
    figure:
      pairs.length === 0
        ? 'not measured'
        : `ahead in ${pairs.length - behind.length} of ${pairs.length} (pair, cell) by req/s, ${pairs.length - behindCpu.length} by CPU${
            behind.length
              ? `; behind by req/s: ${behind.map((p) => `${p.fk} ÷ ${p.peer} ${x(p.ratio)} (CPU ${x(p.cpu)}) at ${cellName(p.c)}`).join(', ')}`
              : ''
          }`,
  })

  const kdb = cells.flatMap((c) => {
    const fk = modeIn(c, 'fk-keydb')
    const get = modeIn(c, 'redis-get')
    if (!fk || !get) return []
    return [{ c, fk: netKeydbCpu(c, fk), get: netKeydbCpu(c, get) }]
  })
  const kdbMet = kdb.filter((k) => k.fk / k.get <= 1.3).length
  targets.push({
    name: 'KeyDB CPU per KeyDB hit ≤ 1.3× a plain GET per request, in every cell',
    met: kdb.length ? kdbMet === kdb.length : undefined,
    figure: kdb.length
      ? `met in ${kdbMet} of ${kdb.length} cells; ${kdb.map((k) => `${cellName(k.c)}: ${fmt(k.fk, 2)} ÷ ${fmt(k.get, 2)} µs = ${x(k.fk / k.get)}`).join('; ')}`
      : 'not measured',
  })
  const cl = main && modeIn(main, 'fk-keydb-cluster') && modeIn(main, 'fk-keydb')
  targets.push({
    name: 'KeyDB hit on a 3-master cluster ≥ 0.9× standalone',
    met: cl ? main.pairRatio('fk-keydb-cluster', 'fk-keydb') >= 0.9 : undefined,
    metCpu: cl ? main.pairRatio('fk-keydb-cluster', 'fk-keydb', 'cpu') >= 0.9 : undefined,
    figure: cl
      ? `fk-keydb-cluster ÷ fk-keydb ${x(main.pairRatio('fk-keydb-cluster', 'fk-keydb'))} by req/s, ${x(main.pairRatio('fk-keydb-cluster', 'fk-keydb', 'cpu'))} by CPU (${cellName(main)})`
      : 'not measured',
  })
  for (const [name, label, goal] of [
    ['fk-l1-headers', 'L1 hit replaying 5 stored headers', 0.92],
    ['fk-keydb-headers', 'KeyDB hit replaying 5 stored headers', 0.85],
  ] as const) {
    const m = main && modeIn(main, name)
    const fh = main && modeIn(main, 'floor-headers')
    targets.push({
      name: `${label} ≥ ${goal}× floor`,
      met: m ? m.ratioToFloor >= goal : undefined,
      metCpu: m ? m.cpuRatioToFloor >= goal : undefined,
      figure: m
        ? `${x(m.ratioToFloor)} by req/s, ${x(m.cpuRatioToFloor)} by CPU (${cellName(main)}; a floor setting the same 5 headers: ${fh ? `${x(fh.ratioToFloor)}, CPU ${x(fh.cpuRatioToFloor)}` : 'not measured'})`
        : 'not measured',
    })
  }
  const counted = cells.flatMap((c) => c.modes.filter((m) => m.samples.length && Number.isFinite(m.hitRatio)))
  const minHit = counted.length ? Math.min(...counted.map((m) => m.hitRatio)) : Number.NaN
  targets.push({
    name: 'every measured window is hits (≥ 99.9 % of requests served without an origin call)',
    met: counted.length ? minHit >= 0.999 : undefined,
    figure: counted.length
      ? `lowest hit ratio of any mode in any cell: ${fmt(minHit * 100, 2)} %`
      : 'not measured',
  })

  const multi = r.stampede?.filter((row) => row.label === 'fastkey' && row.processes > 1)
  targets.push({
    name: 'stampede: 1 origin call across 3 processes',
    met: multi?.length ? multi.every((row) => row.originCalls.every((c) => c === 1)) : undefined,
    figure: multi?.length
      ? multi.map((row) => `${row.processes} processes: ${row.originCalls.join(', ')} calls`).join('; ')
      : 'not measured',
  })
  const fk = r.stampede?.filter((row) => row.label === 'fastkey')
  // Answering N requests takes time on one core whatever the cache: the baseline burst measures it.
  const extra = (row: StampedeRow) => row.afterOriginMs - baselineSpan(r.stampede!, row.processes)
  targets.push({
    name: 'stampede: waiters done within 20 ms of the origin answer (beyond the time to answer as many requests at all)',
    met: fk?.length ? fk.every((row) => extra(row) <= 20) : undefined,
    figure: fk?.length
      ? fk
          .map(
            (row) =>
              `${row.processes} proc: last of ${fmt(row.waiters)} waiters ${fmt(row.afterOriginMs)} ms after the origin; baseline ${fmt(baselineSpan(r.stampede!, row.processes))} ms`,
          )
          .join('; ')
      : 'not measured',
  })

  const relative = (name: string, base: string, label: string, maxCost: number) => {
    const ok = mode(name) && mode(base)
    const ratio = ok ? r.http!.pairRatio(name, base) : Number.NaN
    const cpu = ok ? r.http!.pairRatio(name, base, 'cpu') : Number.NaN
    targets.push({
      name: `${label} ≤ ${maxCost * 100}% cost`,
      met: ok ? ratio >= 1 - maxCost : undefined,
      metCpu: ok ? cpu >= 1 - maxCost : undefined,
      figure: ok ? `${name} ÷ ${base} ${x(ratio)} by req/s, ${x(cpu)} by CPU` : 'not measured',
    })
  }
  relative('fk-metrics', 'fk-l1', 'metrics on', 0.05)
  relative('fk-tags', 'fk-l1', 'tag checks on (L1 hit)', 0.1)
  relative('fk-keydb-tags', 'fk-keydb', 'tag checks on (KeyDB hit)', 0.1)

  const small = r.tags?.[0]
  const large = r.tags?.[r.tags.length - 1]
  targets.push({
    name: 'tag invalidation flat from 10 to 100k entries (within 2× or +1 ms)',
    met: small && large ? large.medianMs <= Math.max(2 * small.medianMs, small.medianMs + 1) : undefined,
    figure: r.tags?.length
      ? r.tags.map((t) => `${fmt(t.entries)}: ${fmt(t.medianMs, 2)} ms`).join(', ')
      : 'not measured',
  })

  const bounded = r.memory?.filter((m) => m.maxBytes < m.totalBytes)
  targets.push({
    name: 'L1 memory bound holds (maxBytes)',
    met: bounded?.length
      ? bounded.every((m) => m.l1Bytes <= m.maxBytes && m.bufferDelta <= m.maxBytes * 1.1)
      : undefined,
    figure: bounded?.length
      ? bounded
          .map(
            (m) =>
              `maxBytes ${fmt(m.maxBytes / 2 ** 20)} MiB: L1 ${fmt(m.l1Bytes / 2 ** 20, 1)} MiB, buffers +${fmt(m.bufferDelta / 2 ** 20, 1)} MiB`,
          )
          .join('; ')
      : 'not measured',
  })
  const on = r.workload?.find((w) => w.cache === 'keydb')
  const off = r.workload?.find((w) => w.cache === 'none')
  targets.push({
    name: 'workload: ≥ 95 % of reads from the cache, database load cut ≥ 20×, p99 < 20 ms',
    met: on && off ? on.cachedReads >= 0.95 && off.dbTps / on.dbTps >= 20 && on.p99Ms < 20 : undefined,
    figure:
      on && off
        ? `at ${fmt(on.offeredRps)} req/s offered: reads from the cache ${fmt(on.cachedReads * 100, 1)} %, database ${fmt(off.dbTps)} → ${fmt(on.dbTps)} xact/s (${x(off.dbTps / on.dbTps)} fewer), p99 ${fmt(on.p99Ms, 1)} ms at ${fmt(on.rps)} req/s answered (cache off: ${fmt(off.rps)} req/s, p99 ${fmt(off.p99Ms, 1)} ms); closed loop ${fmt(on.saturationRps)} vs ${fmt(off.saturationRps)} req/s`
        : 'not measured (`pnpm bench --workload`)',
  })
  const rss = r.rss
  targets.push({
    name: 'RSS flat over minutes of hits on the largest key count (median of the second half ≤ 1.1× the first half)',
    met: rss ? rss.growth <= 1.1 : undefined,
    figure: rss
      ? `${rss.minutes} min on ${fmt(rss.keys)} keys (${rss.mode}): RSS ${fmt(Math.min(...rss.samples.map((s) => s.rssMiB)), 1)}–${fmt(Math.max(...rss.samples.map((s) => s.rssMiB)), 1)} MiB, second half ÷ first half ${x(rss.growth)}`
      : 'not measured (`pnpm bench --only rss`)',
  })
  return targets
}

/**
 * KeyDB CPU µs per request of a mode, less the background (other clients of the shared KeyDB): the
 * floor's KeyDB CPU per second in the same cell, spread over the mode's requests per second.
 */
export function netKeydbCpu(c: CellResult, m: ModeResult): number {
  const floor = c.modes.find((f) => f.spec.name === 'floor' && f.samples.length > 0)
  if (!floor || m.spec.name === 'floor') return m.keydbCpuUsPerReq
  const background = floor.keydbCpuUsPerReq * floor.rps
  return Math.max(0, m.keydbCpuUsPerReq - background / m.rps)
}

/** Server span of the same burst on the floor route (no cache, no origin), same process count. */
export function baselineSpan(rows: StampedeRow[], processes: number): number {
  return (
    rows.find((row) => row.label.startsWith('baseline') && row.processes === processes)?.serverSpanMs ?? 0
  )
}

export function mark(met: boolean | undefined): string {
  return met === undefined ? '–' : met ? '✓' : '✗'
}
