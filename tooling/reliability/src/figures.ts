/** A response as the scenarios see it: from `app.inject()` or a real HTTP request. */
export interface Observed {
  status: number
  latencyMs: number
  xCache?: string | undefined
}

/** The figures a scenario reports (RELIABILITY.md columns), plus named extras. */
export interface FigureValues {
  requests: number
  /** Unexpected failures: a non-2xx where success was expected, a call that threw when it should not. */
  errors: number
  maxLatencyMs: number
  originCalls: number
  /** Responses served stale by design (`x-cache: STALE`: stale-while-revalidate, stale-if-error). */
  staleServes: number
  /** Invariant breaches: old data after an invalidation, another user's data, a foreign value served. */
  violations: number
  extra: Record<string, number | string | boolean>
}

const MAX_DETAILS = 20

/** Counters filled while a scenario runs; the scenario asserts on them and they go to the results JSON. */
export class Figures implements FigureValues {
  requests = 0
  errors = 0
  maxLatencyMs = 0
  originCalls = 0
  staleServes = 0
  violations = 0
  readonly extra: Record<string, number | string | boolean> = {}
  /** First few descriptions of errors and violations, for the failure message and the report. */
  readonly details: string[] = []

  /** Counts one request and its latency; `x-cache: STALE` counts as a stale serve. */
  observe(response: Observed): void {
    this.requests++
    if (response.latencyMs > this.maxLatencyMs) this.maxLatencyMs = response.latencyMs
    if (response.xCache === 'STALE') this.staleServes++
  }

  /** Counts a request that was expected to succeed and did not. */
  error(detail: string): void {
    this.errors++
    this.#detail(`error: ${detail}`)
  }

  violation(detail: string): void {
    this.violations++
    this.#detail(`violation: ${detail}`)
  }

  origin(): void {
    this.originCalls++
  }

  /** A named figure (recovery time, breaker transitions, ...): shown in the report's "held" column. */
  set(name: string, value: number | string | boolean): void {
    this.extra[name] = typeof value === 'number' ? round(value) : value
  }

  /** A counter that only grows, e.g. `maxOf('lock wait ms', 12)`. */
  maxOf(name: string, value: number): void {
    const current = this.extra[name]
    if (typeof current !== 'number' || value > current) this.extra[name] = round(value)
  }

  values(): FigureValues {
    return {
      requests: this.requests,
      errors: this.errors,
      maxLatencyMs: round(this.maxLatencyMs),
      originCalls: this.originCalls,
      staleServes: this.staleServes,
      violations: this.violations,
      extra: { ...this.extra },
    }
  }

  #detail(text: string): void {
    if (this.details.length < MAX_DETAILS) this.details.push(text)
  }
}

export function round(value: number): number {
  return Math.round(value * 10) / 10
}
