import { type RedisProcess, type StartRedisOptions, startRedisServer } from '@fastkey/test-services'
import { it } from 'vitest'
import { Figures, round } from './figures.js'
import { LoopMonitor } from './loop-monitor.js'
import { type Area, writeResult } from './results.js'

export interface ScenarioSpec {
  /** File name of the results JSON and stable id in the report, e.g. `faults-keydb-killed`. */
  id: string
  area: Area
  title: string
  /** What the scenario does, in one sentence (report column). */
  did: string
  /** The pass criterion, as the test asserts it (report column). */
  criterion: string
  timeoutMs?: number
  /**
   * The event-loop delay this scenario is held to, ms (default EVENT_LOOP_DELAY_LIMIT_MS): only for
   * one whose load itself holds the loop (a burst), said in its criterion.
   */
  eventLoopLimitMs?: number
  /** A reason to skip (said loudly and recorded in the report), e.g. a missing binary. */
  skip?: string | undefined
}

export interface ScenarioContext {
  readonly fig: Figures
  /** Registers a clean-up, run last-in first-out when the scenario ends (even when it fails). */
  defer(cleanup: () => unknown): void
  /** A throwaway redis-server, stopped (and checked stopped) when the scenario ends. */
  redis(options?: StartRedisOptions): Promise<RedisProcess>
}

/** Event-loop delay budget every scenario is held to, ms. */
export const EVENT_LOOP_DELAY_LIMIT_MS = 100
const RESOURCE_SETTLE_MS = 3_000

/** Handles (sockets, servers, processes) by type; timers are tracked one by one (see TimerTracker). */
function activeHandles(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) {
    // The runner's own RPC timers come and go during a test: counting timers by type is noise.
    if (type === 'Timeout' || type === 'Immediate') continue
    counts.set(type, (counts.get(type) ?? 0) + 1)
  }
  return counts
}

/**
 * Records every timer created while a scenario runs (global setTimeout/setInterval), so the ones
 * still scheduled at the end, ref'd or not, can be reported: a leaked unref'd interval is a leak too.
 */
class TimerTracker {
  readonly #created: NodeJS.Timeout[] = []
  readonly #setTimeout = globalThis.setTimeout
  readonly #setInterval = globalThis.setInterval

  install(): void {
    const created = this.#created
    const wrap = <F extends typeof setTimeout | typeof setInterval>(original: F): F => {
      const wrapper = ((...args: Parameters<F>) => {
        const timer = (original as (...a: unknown[]) => NodeJS.Timeout)(...args)
        created.push(timer)
        return timer
      }) as F
      return Object.assign(wrapper, original)
    }
    globalThis.setTimeout = wrap(this.#setTimeout)
    globalThis.setInterval = wrap(this.#setInterval)
  }

  restore(): void {
    globalThis.setTimeout = this.#setTimeout
    globalThis.setInterval = this.#setInterval
  }

  /** Timers created during the scenario that have neither fired (one-shot) nor been cleared. */
  pending(): number {
    return this.#created.filter((t) => !(t as unknown as { _destroyed: boolean })._destroyed).length
  }
}

function leftovers(baseline: Map<string, number>, timers: TimerTracker): string[] {
  const out: string[] = []
  for (const [type, count] of activeHandles()) {
    const before = baseline.get(type) ?? 0
    if (count > before) out.push(`${type} ×${count - before}`)
  }
  const pending = timers.pending()
  if (pending > 0) out.push(`timer ×${pending}`)
  return out
}

/** Waits (bounded) for sockets and timers closed by the clean-ups to leave the event loop. */
async function settledLeftovers(
  baseline: Map<string, number>,
  timers: TimerTracker,
  settleMs: number,
): Promise<string[]> {
  const deadline = performance.now() + settleMs
  let left = leftovers(baseline, timers)
  while (left.length > 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25))
    left = leftovers(baseline, timers)
  }
  return left
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${(error as { code?: string }).code ?? error.name}: ${error.message}`
  return String(error)
}

/**
 * One reliability scenario as a vitest test. Around `fn` it records unhandled rejections and uncaught
 * exceptions, measures the event-loop delay, runs the registered clean-ups, and then checks what every
 * scenario must hold: no unhandled rejection, no uncaught exception, event-loop delay under 100 ms,
 * every throwaway server stopped and nothing left holding the event loop. The figures go to
 * `.results/<id>.json` whatever the outcome.
 */
export function scenario(spec: ScenarioSpec, fn: (ctx: ScenarioContext) => Promise<void>): void {
  if (spec.skip) {
    console.warn(`\n*** reliability scenario "${spec.title}" SKIPPED: ${spec.skip} ***\n`)
    writeResult({
      ...base(spec),
      status: 'skipped',
      reason: spec.skip,
      figures: new Figures().values(),
      eventLoopDelayMaxMs: 0,
      eventLoopBlockedMaxMs: 0,
      gcPauseMaxMs: 0,
      durationMs: 0,
      details: [],
      finishedAt: new Date().toISOString(),
    })
    it.skip(spec.title, () => {})
    return
  }
  it(spec.title, { timeout: spec.timeoutMs ?? 60_000 }, () => runScenario(spec, fn))
}

export interface RunOptions {
  /** Write `.results/<id>.json`. @default true (false: the harness's own tests) */
  record?: boolean
  /** How long closed handles get to leave the event loop before they count as left running, ms. @default 3_000 */
  settleMs?: number
}

function base(spec: ScenarioSpec) {
  return { id: spec.id, area: spec.area, title: spec.title, did: spec.did, criterion: spec.criterion }
}

/** Runs one scenario with every check, outside `it` (the harness's own tests use it). */
export async function runScenario(
  spec: ScenarioSpec,
  fn: (ctx: ScenarioContext) => Promise<void>,
  options: RunOptions = {},
): Promise<void> {
  const fig = new Figures()
  const cleanups: Array<() => unknown> = []
  const servers: RedisProcess[] = []
  const rejections: unknown[] = []
  const exceptions: unknown[] = []
  const onRejection = (reason: unknown) => void rejections.push(reason)
  const onException = (error: unknown) => void exceptions.push(error)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  const baseline = activeHandles()
  const timers = new TimerTracker()
  timers.install()
  const loop = new LoopMonitor()
  loop.start()
  const started = performance.now()
  const ctx: ScenarioContext = {
    fig,
    defer: (cleanup) => void cleanups.push(cleanup),
    async redis(options) {
      const server = await startRedisServer(options)
      servers.push(server)
      cleanups.push(() => server.stop())
      return server
    },
  }

  const failures: string[] = []
  let fnError: { error: unknown } | undefined
  try {
    await fn(ctx)
  } catch (error) {
    fnError = { error }
    failures.push(describeError(error))
  }
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup()
    } catch (error) {
      failures.push(`clean-up failed: ${describeError(error)}`)
    }
  }
  const loopFigures = loop.stop()
  const blockedMs = round(loopFigures.blockedMaxMs)
  const loopLimitMs = spec.eventLoopLimitMs ?? EVENT_LOOP_DELAY_LIMIT_MS
  const running = servers.filter((s) => s.running).map((s) => `redis-server :${s.port}`)
  timers.restore()
  const left = await settledLeftovers(baseline, timers, options.settleMs ?? RESOURCE_SETTLE_MS)
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
  const checks = [
    rejections.length > 0 && `${rejections.length} unhandled rejection(s): ${describeError(rejections[0])}`,
    exceptions.length > 0 && `${exceptions.length} uncaught exception(s): ${describeError(exceptions[0])}`,
    blockedMs >= loopLimitMs &&
      `event-loop blocked ${blockedMs} ms >= ${loopLimitMs} ms (delay ${round(loopFigures.delayMaxMs)} ms)`,
    running.length > 0 && `servers still running: ${running.join(', ')}`,
    left.length > 0 && `left running: ${left.join(', ')}`,
  ].filter((c): c is string => typeof c === 'string')
  const firstFailure = failures[0] ?? checks[0]
  if (options.record !== false)
    writeResult({
      ...base(spec),
      status: firstFailure ? 'failed' : 'passed',
      ...(firstFailure && { reason: firstFailure }),
      figures: fig.values(),
      eventLoopDelayMaxMs: round(loopFigures.delayMaxMs),
      eventLoopBlockedMaxMs: blockedMs,
      gcPauseMaxMs: round(loopFigures.gcPauseMaxMs),
      durationMs: Math.round(performance.now() - started),
      details: [...fig.details, ...failures.slice(1), ...checks],
      finishedAt: new Date().toISOString(),
    })
  // fn's own assertion is the more useful message; otherwise what the checks found.
  if (fnError) throw fnError.error
  const problems = [...failures, ...checks]
  if (problems.length > 0) throw new Error(`${spec.title}: ${problems.join('; ')}`)
}
