import { runNodeJson, type ServerProcess, startServer } from './proc.js'
import { median } from './stats.js'

interface Group {
  count: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}
interface ClientResult extends Group {
  non200: number
  lastMs?: number
  byXCache: Record<string, Group>
}
interface Admin {
  origin: number
  /** Per URL: [arrived, done] of each request, CLOCK_MONOTONIC ms. */
  spans: Record<string, Array<[number, number]>>
  /** Per id: when each origin call answered. */
  originDone: Record<string, number[]>
  /** fastkey only: store errors, lock waits and circuit changes so far, by kind. */
  cacheEvents?: Record<string, number>
}

async function admin(server: ServerProcess): Promise<Admin> {
  return (await (await fetch(`${server.url}/__bench`)).json()) as Admin
}

/** What the cache reported during a trial, over every process: `error read:FST_… ×n, lockWait filled ×n`. */
function describeEvents(before: Admin[], after: Admin[]): string {
  const total = new Map<string, number>()
  for (const [i, a] of after.entries())
    for (const [name, n] of Object.entries(a.cacheEvents ?? {})) {
      const delta = n - (before[i]!.cacheEvents?.[name] ?? 0)
      if (delta > 0) total.set(name, (total.get(name) ?? 0) + delta)
    }
  return total.size === 0 ? 'no cache events' : [...total].map(([name, n]) => `${name} ×${n}`).join(', ')
}

export interface StampedeRow {
  label: string
  processes: number
  requests: number
  /** Origin calls per trial. */
  originCalls: number[]
  /** Client side: first request sent → last response received, ms (median of trials). */
  lastMs: number
  /** Server side: first request arrived → last response finished, over every process, ms (median). */
  serverSpanMs: number
  /** Requests that arrived before the (first) origin call answered: they waited for the fill (median). */
  waiters: number
  /** From the origin's answer to the last waiter's response, ms (median of trials). */
  afterOriginMs: number
  originMs: number
  non200: number
}

export const STAMPEDE_LIBS = [
  // The harness itself: 1,000 requests answered with no cache and no origin (a fixed path).
  { mode: 'floor', label: 'baseline: floor route, no origin' },
  { mode: 'fk-l1', label: 'fastkey' },
  { mode: 'acd-redis', label: 'async-cache-dedupe redis' },
  { mode: 'bento-l1l2', label: 'bentocache L1+L2+bus' },
]

/** 1,000 concurrent requests for one cold key, over 1 or several processes sharing KeyDB. */
export async function stampede(o: {
  processes: number[]
  requests: number
  trials: number
  originMs: number
  runId: string
  log(line: string): void
  /** Modes to run (default: every library of STAMPEDE_LIBS). */
  libs?: string[]
  serverCpu?: number
  clientCpu?: number
}): Promise<StampedeRow[]> {
  const rows: StampedeRow[] = []
  let keyBase = 100_000
  for (const lib of STAMPEDE_LIBS.filter((l) => !o.libs || o.libs.includes(l.mode))) {
    for (const count of o.processes) {
      // One prefix for the group: the processes share their keys, as instances of one app do.
      const prefix = `bench-${o.runId}-st-${lib.mode}-${count}`
      const servers: ServerProcess[] = []
      try {
        for (let i = 0; i < count; i++)
          servers.push(
            await startServer(
              `${lib.mode}#${i}`,
              ['--mode', lib.mode, '--prefix', prefix, '--origin-ms', String(o.originMs), '--trace'],
              o.serverCpu === undefined ? {} : { cpu: o.serverCpu },
            ),
          )
        const row: StampedeRow = {
          label: lib.label,
          processes: count,
          requests: o.requests,
          originCalls: [],
          lastMs: Number.NaN,
          serverSpanMs: Number.NaN,
          waiters: Number.NaN,
          afterOriginMs: Number.NaN,
          originMs: o.originMs,
          non200: 0,
        }
        const last: number[] = []
        const span: number[] = []
        const waiters: number[] = []
        const afterOrigin: number[] = []
        for (let t = 0; t < o.trials; t++) {
          // Instances behind one load balancer see one Host (the client sends the same to each process).
          const path = lib.mode === 'floor' ? `/item/1?trial=${keyBase++}` : `/item/${keyBase++}`
          const before = await Promise.all(servers.map(admin))
          const result = await runNodeJson<ClientResult>(
            'src/http-client.ts',
            [JSON.stringify({ kind: 'burst', urls: servers.map((s) => s.url), path, total: o.requests })],
            o.clientCpu === undefined ? {} : { cpu: o.clientCpu },
          )
          const after = await Promise.all(servers.map(admin))
          const calls = after.reduce((sum, a, i) => sum + a.origin - before[i]!.origin, 0)
          row.originCalls.push(calls)
          if (calls > 1) o.log(`    trial ${t + 1}: ${calls} origin calls; ${describeEvents(before, after)}`)
          row.non200 += result.non200
          last.push(result.lastMs!)
          const requests = after.flatMap((a) => a.spans[path] ?? [])
          span.push(Math.max(...requests.map((r) => r[1])) - Math.min(...requests.map((r) => r[0])))
          const id = path.slice('/item/'.length)
          const answered = Math.min(...after.flatMap((a) => a.originDone[id] ?? []))
          if (Number.isFinite(answered)) {
            const waiting = requests.filter((r) => r[0] < answered)
            waiters.push(waiting.length)
            afterOrigin.push(Math.max(...waiting.map((r) => r[1] - answered)))
          }
        }
        row.lastMs = median(last)
        row.serverSpanMs = median(span)
        row.waiters = median(waiters)
        row.afterOriginMs = median(afterOrigin)
        rows.push(row)
        const waited = Number.isNaN(row.waiters)
          ? ''
          : `, ${row.waiters} waiters done ${row.afterOriginMs.toFixed(0)} ms after the origin answered`
        o.log(
          `  ${lib.label} × ${count}: origin calls ${row.originCalls.join('/')}, server span ${row.serverSpanMs.toFixed(0)} ms${waited}`,
        )
      } finally {
        await Promise.all(servers.map((s) => s.stop()))
      }
    }
  }
  return rows
}

export interface SwrResult {
  durationS: number
  ttlMs: number
  originMs: number
  originCalls: number
  stale: Group | undefined
  hit: Group | undefined
  miss: Group | undefined
  total: number
  non200: number
}

/** Load on one key whose entry goes stale every `ttlMs`: stale serves must not wait for the refresh. */
export async function swr(o: {
  durationS: number
  ttlMs: number
  originMs: number
  concurrency: number
  runId: string
  serverCpu?: number
  clientCpu?: number
}): Promise<SwrResult> {
  const server = await startServer(
    'swr',
    [
      '--mode',
      'fk-keydb',
      '--prefix',
      `bench-${o.runId}-swr`,
      '--ttl',
      String(o.ttlMs),
      '--swr',
      '600000',
      '--origin-ms',
      String(o.originMs),
    ],
    o.serverCpu === undefined ? {} : { cpu: o.serverCpu },
  )
  try {
    await fetch(`${server.url}/item/1`)
    const before = await admin(server)
    const result = await runNodeJson<ClientResult>(
      'src/http-client.ts',
      [
        JSON.stringify({
          kind: 'loop',
          urls: [server.url],
          path: '/item/1',
          concurrency: o.concurrency,
          durationS: o.durationS,
        }),
      ],
      o.clientCpu === undefined ? {} : { cpu: o.clientCpu },
    )
    const after = await admin(server)
    return {
      durationS: o.durationS,
      ttlMs: o.ttlMs,
      originMs: o.originMs,
      originCalls: after.origin - before.origin,
      stale: result.byXCache.STALE,
      hit: result.byXCache.HIT,
      miss: result.byXCache.MISS,
      total: result.count,
      non200: result.non200,
    }
  } finally {
    await server.stop()
  }
}
