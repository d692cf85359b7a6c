import { isDeepStrictEqual } from 'node:util'
import { makeItem } from './item.js'
import type { Loader, LoadResult } from './load.js'
import type { ModeGroup } from './modes.js'
import { cpuMicros, PendingMode, type ServerProcess, startServer } from './proc.js'
import { median } from './stats.js'

/** A server to measure: the `/item/:id` modes and the demo app. */
export interface ServerSpec {
  name: string
  label: string
  group: ModeGroup | 'demo'
  args: string[]
  /** Path prefix of the measured route (ids 1..keys are appended). */
  path: string
  /** Expect `x-cache: HIT` once warm. */
  fastkey: boolean
  /** The expected JSON of id 1 (undefined: only check the status and `id`). */
  expected?: unknown
}

export interface RoundSample extends LoadResult {
  round: number
  cpuUsPerReq: number
}

export interface ModeResult {
  spec: ServerSpec
  /** Why it was not measured (package not built yet, failed check). */
  pending?: string
  /** A note shown beside the figures (e.g. the demo route is not cached yet). */
  note?: string
  samples: RoundSample[]
  rps: number
  p50Ms: number
  p99Ms: number
  cpuUsPerReq: number
  /** Median over rounds of (mode req/s ÷ floor req/s of the same round). */
  ratioToFloor: number
  /** Median over rounds of (floor CPU µs/req ÷ mode CPU µs/req). */
  cpuRatioToFloor: number
}

export interface HttpOptions {
  specs: ServerSpec[]
  rounds: number
  durationS: number
  warmupS: number
  connections: number
  load: Loader
  log(line: string): void
  /** CPUs: server, load generator. */
  serverCpu?: number
  loadCpu?: number
}

export interface HttpResult {
  modes: ModeResult[]
  /** ratios[a][b] = median over rounds of rps(a) ÷ rps(b). */
  pairRatio(a: string, b: string): number
}

async function check(server: ServerProcess, spec: ServerSpec): Promise<string | undefined> {
  let xcache: string | null = null
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${server.url}${spec.path}1`)
    const body = await res.text()
    if (res.status !== 200) return `GET ${spec.path}1 answered ${res.status}: ${body.slice(0, 200)}`
    if (!(res.headers.get('content-type') ?? '').startsWith('application/json'))
      return `content-type ${res.headers.get('content-type')}`
    const json = JSON.parse(body) as { id?: unknown }
    if (spec.expected !== undefined ? !isDeepStrictEqual(json, spec.expected) : json.id !== 1)
      return `unexpected body for id 1: ${body.slice(0, 200)}`
    xcache = res.headers.get('x-cache')
  }
  if (spec.fastkey && xcache !== 'HIT') return `second request answered x-cache ${xcache}, expected HIT`
  return undefined
}

/** Starts each server, checks its answers and stops it (several at a time); resolves the failures. */
export async function checkModes(specs: ServerSpec[], parallel = 4): Promise<string[]> {
  const failures: string[] = []
  for (let i = 0; i < specs.length; i += parallel) {
    await Promise.all(
      specs.slice(i, i + parallel).map(async (spec) => {
        let server: ServerProcess | undefined
        try {
          server = await startServer(spec.name, spec.args)
          const problem = await check(server, spec)
          if (problem) failures.push(`${spec.name}: ${problem}`)
        } catch (error) {
          failures.push(`${spec.name}: ${(error as Error).message}`)
        } finally {
          await server?.stop()
        }
      }),
    )
  }
  return failures
}

export async function runHttp(o: HttpOptions): Promise<HttpResult> {
  const servers = new Map<string, ServerProcess>()
  const results = new Map<string, ModeResult>()
  const empty = (spec: ServerSpec, pending?: string): ModeResult => ({
    spec,
    ...(pending !== undefined && { pending }),
    samples: [],
    rps: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    cpuUsPerReq: Number.NaN,
    ratioToFloor: Number.NaN,
    cpuRatioToFloor: Number.NaN,
  })
  try {
    for (const spec of o.specs) {
      try {
        const server = await startServer(
          spec.name,
          spec.args,
          o.serverCpu === undefined ? {} : { cpu: o.serverCpu },
        )
        servers.set(spec.name, server)
        const problem = await check(server, spec)
        if (problem && spec.group === 'demo' && problem.includes('x-cache')) {
          results.set(spec.name, { ...empty(spec), note: 'not cached yet: every request reads Postgres' })
        } else if (problem) {
          throw new Error(problem)
        } else {
          results.set(spec.name, empty(spec))
        }
      } catch (error) {
        const reason =
          error instanceof PendingMode ? `pending: ${error.message}` : `failed: ${(error as Error).message}`
        o.log(`  ${spec.name}: ${reason.split('\n')[0]}`)
        results.set(spec.name, empty(spec, reason))
        await servers.get(spec.name)?.stop()
        servers.delete(spec.name)
      }
    }
    const active = o.specs.filter((s) => servers.has(s.name))
    const loadOnce = (spec: ServerSpec, durationS: number) =>
      o.load({
        url: servers.get(spec.name)!.url,
        path: spec.path,
        durationS,
        connections: o.connections,
        ...(o.loadCpu !== undefined && { cpu: o.loadCpu }),
      })
    if (o.warmupS > 0) {
      o.log(`  warming up ${active.length} servers (${o.warmupS} s each)`)
      for (const spec of active) await loadOnce(spec, o.warmupS)
    }
    for (let round = 0; round < o.rounds; round++) {
      // Rotate the order each round so no mode always runs first or right after a heavy one.
      const order = active.map((_, i) => active[(i + round * 3) % active.length]!)
      const line: string[] = []
      for (const spec of order) {
        const server = servers.get(spec.name)!
        const before = cpuMicros(server.pid)
        const load = await loadOnce(spec, o.durationS)
        const cpu = cpuMicros(server.pid) - before
        results
          .get(spec.name)!
          .samples.push({ ...load, round, cpuUsPerReq: cpu / Math.max(1, load.requests) })
        line.push(`${spec.name} ${Math.round(load.rps)}`)
      }
      o.log(`  round ${round + 1}/${o.rounds}: ${line.join(', ')}`)
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()))
  }
  return summarize(o.specs, results)
}

function summarize(specs: ServerSpec[], results: Map<string, ModeResult>): HttpResult {
  const byRound = (name: string) => new Map(results.get(name)?.samples.map((s) => [s.round, s]) ?? [])
  const pairRatio = (a: string, b: string, metric: (s: RoundSample) => number = (s) => s.rps) => {
    const ra = byRound(a)
    const rb = byRound(b)
    const ratios: number[] = []
    for (const [round, sa] of ra) {
      const sb = rb.get(round)
      if (sb) ratios.push(metric(sa) / metric(sb))
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
    r.ratioToFloor = pairRatio(spec.name, 'floor')
    r.cpuRatioToFloor = pairRatio(spec.name, 'floor', (s) => 1 / s.cpuUsPerReq)
  }
  return { modes: specs.map((s) => results.get(s.name)!), pairRatio: (a, b) => pairRatio(a, b) }
}

/** The `/item/:id` expectation: every mode serves the same item. */
export const ITEM_1 = makeItem(1)
