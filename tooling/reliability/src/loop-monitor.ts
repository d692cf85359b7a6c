import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'

const RESOLUTION_MS = 10
// Captured at load, before any scenario wraps the globals to track the timers it creates.
const startInterval = globalThis.setInterval
const stopInterval = globalThis.clearInterval

export interface LoopFigures {
  /** Largest event-loop delay (monitorEventLoopDelay), ms: includes time the OS ran other processes. */
  delayMaxMs: number
  /**
   * Largest delay during which this process was running (CPU time it used within the stall), ms:
   * what this process's own code, or its garbage collector, blocked. On a dedicated machine it is the
   * same as `delayMaxMs`; on a shared one it leaves out the time other processes had the CPU.
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

function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}
