import type { ModeResult, RoundSample, ServerSpec } from './http-bench.js'
import { median } from './stats.js'

/** Runs between two floor measurements. */
const FLOOR_EVERY = 3

/**
 * One round's order: the modes rotated by the round (no mode always first or always after the same
 * one), with the floor before, between every few and after them, so each mode has a floor measured
 * seconds before and after it on this noisy machine.
 */
export function schedule<T extends { name: string }>(active: T[], round: number): T[] {
  const floor = active.find((s) => s.name === 'floor')
  const others = active.filter((s) => s !== floor)
  const rotated = others.map((_, i) => others[(i + round * FLOOR_EVERY) % others.length]!)
  if (!floor) return rotated
  const order: T[] = [floor]
  rotated.forEach((spec, i) => {
    order.push(spec)
    if ((i + 1) % FLOOR_EVERY === 0 || i === rotated.length - 1) order.push(floor)
  })
  return order
}

interface Normalized {
  round: number
  /** req/s ÷ the floor's req/s around it. */
  rps: number
  /** The floor's CPU µs/req around it ÷ this mode's. */
  cpu: number
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

export function summarize(specs: ServerSpec[], results: Map<string, ModeResult>) {
  const floor = results.get('floor')?.samples ?? []
  const normalize = (s: RoundSample): Normalized | undefined => {
    const round = floor.filter((f) => f.round === s.round)
    const before = round.filter((f) => f.seq < s.seq).at(-1)
    const after = round.find((f) => f.seq > s.seq)
    const refs = [before, after].filter((f) => f !== undefined)
    if (refs.length === 0) return undefined
    return {
      round: s.round,
      rps: s.rps / mean(refs.map((f) => f.rps)),
      cpu: mean(refs.map((f) => f.cpuUsPerReq)) / s.cpuUsPerReq,
    }
  }
  const normalized = new Map<string, Normalized[]>()
  for (const spec of specs) {
    const samples = results.get(spec.name)?.samples ?? []
    normalized.set(
      spec.name,
      spec.name === 'floor'
        ? samples.map((s) => ({ round: s.round, rps: 1, cpu: 1 }))
        : samples.map(normalize).filter((n) => n !== undefined),
    )
  }
  /** Median over rounds of (a ÷ floor) ÷ (b ÷ floor): drift of the machine cancels out. */
  const pairRatio = (a: string, b: string, metric: 'rps' | 'cpu' = 'rps') => {
    const nb = normalized.get(b) ?? []
    const ratios: number[] = []
    for (const x of normalized.get(a) ?? []) {
      const ys = nb.filter((y) => y.round === x.round)
      if (ys.length) ratios.push(x[metric] / mean(ys.map((y) => y[metric])))
    }
    return median(ratios)
  }
  for (const spec of specs) {
    const r = results.get(spec.name)!
    if (r.samples.length === 0) continue
    r.rps = median(r.samples.map((s) => s.rps))
    r.p50Ms = median(r.samples.map((s) => s.p50Ms))
    r.p99Ms = median(r.samples.map((s) => s.p99Ms))
    r.cpuUsPerReq = median(r.samples.map((s) => s.cpuUsPerReq))
    r.keydbCpuUsPerReq = median(r.samples.map((s) => s.keydbCpuUsPerReq))
    const requests = r.samples.reduce((sum, s) => sum + s.requests, 0)
    const misses = r.samples.reduce((sum, s) => sum + s.misses, 0)
    r.hitRatio = r.spec.countsOrigin ? 1 - misses / Math.max(1, requests) : Number.NaN
    r.coreUse = median(r.samples.map((s) => (s.rps * s.cpuUsPerReq) / 1e6))
    r.ratioToFloor = median(normalized.get(spec.name)!.map((n) => n.rps))
    r.cpuRatioToFloor = median(normalized.get(spec.name)!.map((n) => n.cpu))
  }
  return { modes: specs.map((s) => results.get(s.name)!), pairRatio }
}
