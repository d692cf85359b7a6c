import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { schedule, summarize } from './http-stats.js'
import { EXTRA_HEADERS, makeItem } from './item.js'
import { haveWrk, type Loader, type LoadResult, wrkWarm } from './load.js'
import type { ModeGroup } from './modes.js'
import { cpuMicros, PendingMode, type ServerProcess, startServer } from './proc.js'

/** A server to measure: the `/item/:id` modes and the demo app. */
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
  /** Measured in every cell of the sweep (else only in the main cell). */
  sweep?: boolean
  /** The largest id the server answers: it is pre-warmed over 1..maxKeys. */
  maxKeys: number
  /** Its misses are counted (origin calls in `/__bench`): the hit ratio is measured. */
  countsOrigin?: boolean
  /** Its KeyDB is the cluster (whose CPU time is read instead of the standalone server's). */
  cluster?: boolean
}

/** One point of the sweep: distinct ids the load cycles over, and wrk connections. */
export interface Cell {
  keys: number
  connections: number
}

export interface RoundSample extends LoadResult {
  round: number
  /** Position in the whole run (to find the floor measured around it). */
  seq: number
  cpuUsPerReq: number
  /** KeyDB's own CPU time (user + system) over the window ÷ requests served. */
  keydbCpuUsPerReq: number
  /** Origin calls during the window (each a miss); NaN where the mode has no counted origin. */
  misses: number
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
  /** Median KeyDB CPU µs per request over the rounds. */
  keydbCpuUsPerReq: number
  /** 1 − misses ÷ requests over every window (NaN: not counted). */
  hitRatio: number
  /** Share of one core the server used while loaded (1 = it was the bottleneck), median. */
  coreUse: number
  /** Median over rounds of (mode req/s ÷ req/s of the floor measured just before and after it). */
  ratioToFloor: number
  /** The same with CPU: floor CPU µs/req around it ÷ mode CPU µs/req. */
  cpuRatioToFloor: number
}

export interface HttpOptions {
  specs: ServerSpec[]
  /** The sweep; `mainCell` (an index) is where the modes outside the sweep are measured. */
  cells: Cell[]
  mainCell: number
  rounds: number
  durationS: number
  warmupS: number
  load: Loader
  log(line: string): void
  /** CPUs: server, load generator. */
  serverCpu?: number
  loadCpu?: number
  /** KeyDB's CPU time so far (µs): the standalone server, and the cluster's nodes summed. */
  keydbCpu?: () => Promise<number>
  clusterCpu?: () => Promise<number>
}

export interface CellResult extends Cell {
  main: boolean
  modes: ModeResult[]
  /** Median over rounds of (a ÷ floor) ÷ (b ÷ floor), by req/s or by CPU µs per request. */
  pairRatio(a: string, b: string, metric?: 'rps' | 'cpu'): number
}

export interface HttpResult {
  /** Every cell of the sweep, in order. */
  cells: CellResult[]
  /** The main cell's figures (every mode measured there). */
  modes: ModeResult[]
  pairRatio(a: string, b: string, metric?: 'rps' | 'cpu'): number
  keys: number
  connections: number
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
    // The header modes: the five headers the handler set come back on the hit, as they were.
    if (i === 1 && spec.name.endsWith('-headers'))
      for (const [name, value] of EXTRA_HEADERS)
        if (res.headers.get(name) !== value)
          return `header ${name} answered ${res.headers.get(name)}, expected ${value}`
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

interface BenchState {
  origin: number
  l1: { entries: number } | null
}

async function state(server: ServerProcess): Promise<BenchState> {
  return (await (await fetch(`${server.url}/__bench`)).json()) as BenchState
}

/** Every id 1..maxKeys once, 64 at a time, with fetch (without wrk, and for small key counts). */
async function fetchEvery(server: ServerProcess, spec: ServerSpec): Promise<void> {
  let next = 1
  const worker = async () => {
    while (next <= spec.maxKeys) {
      const id = next++
      const res = await fetch(`${server.url}${spec.path}${id}`)
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`pre-warm: GET ${spec.path}${id} answered ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker))
}

/**
 * Requests every id 1..maxKeys, so the measured windows are hits only (without it the first pass over
 * 10,000 ids would count as misses); passes repeat until one calls the origin no more (a fill a
 * cache declined to store under load is filled again), at most 4. Resolves the origin calls per pass.
 */
export async function prewarm(server: ServerProcess, spec: ServerSpec, loadCpu?: number): Promise<number[]> {
  const calls: number[] = []
  for (let pass = 0; pass < 4; pass++) {
    const before = (await state(server)).origin
    if (spec.maxKeys > 200 && haveWrk()) {
      const r = await wrkWarm({
        url: server.url,
        path: spec.path,
        keys: spec.maxKeys,
        connections: 64,
        ...(loadCpu !== undefined && { cpu: loadCpu }),
      })
      if (r.non2xx > 0) throw new Error(`pre-warm: ${r.non2xx} answers were not 2xx`)
    } else {
      await fetchEvery(server, spec)
    }
    // Fills write to the store after answering: let them land before counting.
    await sleep(200)
    calls.push((await state(server)).origin - before)
    if (!spec.countsOrigin || calls.at(-1) === 0) break
  }
  return calls
}

const keysFor = (spec: ServerSpec, cell: Cell) => Math.min(cell.keys, spec.maxKeys)

export async function runHttp(o: HttpOptions): Promise<HttpResult> {
  const servers = new Map<string, ServerProcess>()
  const empty = (spec: ServerSpec, pending?: string): ModeResult => ({
    spec,
    ...(pending !== undefined && { pending }),
    samples: [],
    rps: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    cpuUsPerReq: Number.NaN,
    keydbCpuUsPerReq: Number.NaN,
    hitRatio: Number.NaN,
    coreUse: Number.NaN,
    ratioToFloor: Number.NaN,
    cpuRatioToFloor: Number.NaN,
  })
  const inCell = (spec: ServerSpec, c: number) => spec.sweep === true || c === o.mainCell
  // One result map per cell; a mode outside the sweep has results only in the main cell.
  const results = o.cells.map(() => new Map<string, ModeResult>())
  const notes = new Map<string, { pending?: string; note?: string }>()
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
          notes.set(spec.name, { note: 'not cached yet: every request reads Postgres' })
        } else if (problem) {
          throw new Error(problem)
        }
        const t0 = Date.now()
        const calls = await prewarm(server, spec, o.loadCpu)
        const warm = await state(server)
        const l1 = warm.l1 ? `, L1 holds ${warm.l1.entries}` : ''
        const passes = spec.countsOrigin ? ` (origin calls per pass: ${calls.join(', ')})` : ''
        o.log(`  ${spec.name}: pre-warmed ids 1..${spec.maxKeys} in ${Date.now() - t0} ms${passes}${l1}`)
      } catch (error) {
        const reason =
          error instanceof PendingMode ? `pending: ${error.message}` : `failed: ${(error as Error).message}`
        o.log(`  ${spec.name}: ${reason.split('\n')[0]}`)
        notes.set(spec.name, { pending: reason })
        await servers.get(spec.name)?.stop()
        servers.delete(spec.name)
      }
    }
    for (const [c, map] of results.entries())
      for (const spec of o.specs)
        if (inCell(spec, c)) map.set(spec.name, { ...empty(spec), ...notes.get(spec.name) })
    const loadOnce = (spec: ServerSpec, cell: Cell, durationS: number) =>
      o.load({
        url: servers.get(spec.name)!.url,
        path: spec.path,
        keys: keysFor(spec, cell),
        durationS,
        connections: cell.connections,
        ...(o.loadCpu !== undefined && { cpu: o.loadCpu }),
      })
    const main = o.cells[o.mainCell]!
    if (o.warmupS > 0) {
      const active = o.specs.filter((s) => servers.has(s.name))
      o.log(`  warming up ${active.length} servers (${o.warmupS} s each, JIT)`)
      for (const spec of active) await loadOnce(spec, main, o.warmupS)
    }
    let seq = 0
    for (const [c, cell] of o.cells.entries()) {
      const active = o.specs.filter((s) => servers.has(s.name) && inCell(s, c))
      o.log(`  cell ${c + 1}/${o.cells.length}: ${cell.keys} keys, ${cell.connections} connections`)
      for (let round = 0; round < o.rounds; round++) {
        // Rotated by cell too: no mode always first or after the same one.
        const order = schedule(active, round + c)
        const line: string[] = []
        const floors: number[] = []
        for (const spec of order) {
          const server = servers.get(spec.name)!
          const keydbCpu = spec.cluster ? o.clusterCpu : o.keydbCpu
          const origin0 = spec.countsOrigin ? (await state(server)).origin : 0
          const kBefore = (await keydbCpu?.()) ?? Number.NaN
          const before = cpuMicros(server.pid)
          const load = await loadOnce(spec, cell, o.durationS)
          const cpu = cpuMicros(server.pid) - before
          const kCpu = ((await keydbCpu?.()) ?? Number.NaN) - kBefore
          const misses = spec.countsOrigin ? (await state(server)).origin - origin0 : Number.NaN
          const requests = Math.max(1, load.requests)
          results[c]!.get(spec.name)!.samples.push({
            ...load,
            round,
            seq: seq++,
            cpuUsPerReq: cpu / requests,
            keydbCpuUsPerReq: kCpu / requests,
            misses,
          })
          if (spec.name === 'floor') floors.push(Math.round(load.rps))
          else line.push(`${spec.name} ${Math.round(load.rps)}${misses > 0 ? ` (${misses} misses)` : ''}`)
        }
        o.log(`    round ${round + 1}/${o.rounds}: floor ${floors.join('/')}; ${line.join(', ')}`)
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()))
  }
  const cells: CellResult[] = o.cells.map((cell, c) => {
    const specs = o.specs.filter((s) => inCell(s, c))
    return { ...cell, main: c === o.mainCell, ...summarize(specs, results[c]!) }
  })
  const mainResult = cells[o.mainCell]!
  return {
    cells,
    modes: mainResult.modes,
    pairRatio: mainResult.pairRatio,
    keys: mainResult.keys,
    connections: mainResult.connections,
  }
}

/** The `/item/:id` expectation: every mode serves the same item. */
export const ITEM_1 = makeItem(1)
