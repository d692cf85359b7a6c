import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'

const RESOLUTION_MS = 10
// Captured at load, before any scenario wraps the globals to track the timers it creates.
const startInterval = globalThis.setInterval
const stopInterval = globalThis.clearInterval

export interface LoopFigures {
  /** Largest event-loop delay (monitorEventLoopDelay), ms: includes time the OS ran other processes. */
  delayMaxMs: number
  /**
   * Largest delay during which this thread was running (CPU time the thread that runs the event loop
   * used within the stall), ms: what this process's own code, or its garbage collector, blocked. On a
   * dedicated machine it is the same as `delayMaxMs`; on a shared one it leaves out the time other
   * processes had the CPU, and the time this process's other threads (concurrent GC marking, the
   * optimising compiler, libuv's pool) ran while the loop's thread waited for a core.
   */
  blockedMaxMs: number
  /** Longest garbage-collection pause, ms. */
  gcPauseMaxMs: number
}

/**
 * Watches the event loop while a scenario runs: `monitorEventLoopDelay` (10 ms resolution), a 10 ms
 * sampler that sets each stall against the CPU time the process used during it, and GC pauses.
 * Its own timer uses the functions captured at load, so the scenario's timer tracking ignores it.
 */
export class LoopMonitor {
  readonly #histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  readonly #gc: PerformanceObserver
  #gcMaxMs = 0
  #blockedMaxMs = 0
  #sampler: NodeJS.Timeout | undefined

  constructor() {
    this.#gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.#gcMaxMs = Math.max(this.#gcMaxMs, entry.duration)
    })
  }

  start(): void {
    this.#histogram.enable()
    this.#gc.observe({ entryTypes: ['gc'] })
    let last = performance.now()
    let lastCpu = cpuMs()
    this.#sampler = startInterval(() => {
      const now = performance.now()
      const cpu = cpuMs()
      const stall = now - last - RESOLUTION_MS
      if (stall > 0) this.#blockedMaxMs = Math.max(this.#blockedMaxMs, Math.min(stall, cpu - lastCpu))
      last = now
      lastCpu = cpu
    }, RESOLUTION_MS)
    this.#sampler.unref()
  }

  stop(): LoopFigures {
    this.#histogram.disable()
    this.#gc.disconnect()
    stopInterval(this.#sampler)
    return {
      // The histogram records whole timer intervals: the delay is what exceeds the resolution.
      delayMaxMs: Math.max(0, this.#histogram.max / 1e6 - RESOLUTION_MS),
      blockedMaxMs: this.#blockedMaxMs,
      gcPauseMaxMs: this.#gcMaxMs,
    }
  }
}

const SCHEDSTAT = '/proc/thread-self/schedstat'

/**
 * CPU time of the calling thread, ms: `process.threadCpuUsage` (Node 23.9+), else Linux's per-thread
 * schedstat (ns on a CPU), else the whole process's time (which also counts its other threads: a
 * stall while the loop's thread waited for a core then reads as blocked when a background thread ran).
 */
const cpuMs: () => number = (() => {
  const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage
  if (typeof threadCpuUsage === 'function')
    return () => {
      const { user, system } = threadCpuUsage.call(process)
      return (user + system) / 1000
    }
  try {
    readSchedstatMs()
    return readSchedstatMs
  } catch {
    return () => {
      const { user, system } = process.cpuUsage()
      return (user + system) / 1000
    }
  }
})()

function readSchedstatMs(): number {
  const runNs = Number(readFileSync(SCHEDSTAT, 'latin1').split(' ', 1)[0])
  if (!Number.isFinite(runNs)) throw new Error(`unexpected ${SCHEDSTAT}`)
  return runNs / 1e6
}
