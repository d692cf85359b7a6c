import type { HttpResult } from './http-bench.js'
import type { MemoryRow } from './memory-figure.js'
import type { StampedeRow, SwrResult } from './miss-path.js'
import { fmt } from './stats.js'
import type { TagRow } from './tags.js'

export interface Results {
  http?: HttpResult | undefined
  stampede?: StampedeRow[] | undefined
  swr?: SwrResult | undefined
  tags?: TagRow[] | undefined
  memory?: MemoryRow[] | undefined
}

export interface Target {
  name: string
  /** By req/s (the measure); undefined: not measured in this run. */
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
  const floorTarget = (name: string, label: string, goal: number) => {
    const m = mode(name)
    targets.push({
      name: `${label} ≥ ${goal}× floor`,
      met: m ? m.ratioToFloor >= goal : undefined,
      metCpu: m ? m.cpuRatioToFloor >= goal : undefined,
      figure: m ? `${x(m.ratioToFloor)} by req/s, ${x(m.cpuRatioToFloor)} by CPU` : 'not measured',
    })
  }
  floorTarget('fk-l1', 'L1 hit', 0.92)
  floorTarget('fk-keydb', 'KeyDB-only hit', 0.85)

  const pairs = PEER_PAIRS.filter(([peer, fk]) => mode(peer) && mode(fk)).map(([peer, fk]) => ({
    peer,
    fk,
    ratio: r.http!.pairRatio(fk, peer),
    cpu: r.http!.pairRatio(fk, peer, 'cpu'),
  }))
  targets.push({
    name: 'ahead of every peer on the same store',
    met: pairs.length > 0 ? pairs.every((p) => p.ratio > 1) : undefined,
    metCpu: pairs.length > 0 ? pairs.every((p) => p.cpu > 1) : undefined,
    figure:
      pairs.length === 0
        ? 'not measured'
        : pairs.map((p) => `${p.fk} ÷ ${p.peer} ${x(p.ratio)} (CPU ${x(p.cpu)})`).join(', '),
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
  return targets
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
