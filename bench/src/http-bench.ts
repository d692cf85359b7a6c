import { isDeepStrictEqual } from 'node:util'
import { schedule, summarize } from './http-stats.js'
import { makeItem } from './item.js'
import type { Loader, LoadResult } from './load.js'
import type { ModeGroup } from './modes.js'
import { cpuMicros, PendingMode, type ServerProcess, startServer } from './proc.js'

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
  /** Position in the whole run (to find the floor measured around it). */
  seq: number
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
  /** Share of one core the server used while loaded (1 = it was the bottleneck), median. */
  coreUse: number
  /** Median over rounds of (mode req/s ÷ req/s of the floor measured just before and after it). */
  ratioToFloor: number
  /** The same with CPU: floor CPU µs/req around it ÷ mode CPU µs/req. */
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
  /** Median over rounds of (a ÷ floor) ÷ (b ÷ floor), by req/s or by CPU µs per request. */
  pairRatio(a: string, b: string, metric?: 'rps' | 'cpu'): number
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
    coreUse: Number.NaN,
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
    let seq = 0
    for (let round = 0; round < o.rounds; round++) {
      const order = schedule(active, round)
      const line: string[] = []
      const floors: number[] = []
      for (const spec of order) {
        const server = servers.get(spec.name)!
        const before = cpuMicros(server.pid)
        const load = await loadOnce(spec, o.durationS)
        const cpu = cpuMicros(server.pid) - before
        results
          .get(spec.name)!
          .samples.push({ ...load, round, seq: seq++, cpuUsPerReq: cpu / Math.max(1, load.requests) })
        if (spec.name === 'floor') floors.push(Math.round(load.rps))
        else line.push(`${spec.name} ${Math.round(load.rps)}`)
      }
      o.log(`  round ${round + 1}/${o.rounds}: floor ${floors.join('/')}; ${line.join(', ')}`)
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()))
  }
  return summarize(o.specs, results)
}

/** The `/item/:id` expectation: every mode serves the same item. */
export const ITEM_1 = makeItem(1)
