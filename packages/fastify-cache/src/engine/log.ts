/** The subset of a pino/Fastify logger the engine uses. */
export interface CacheLogger {
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/**
 * Logs at most one line per `intervalMs` for each kind of failure and says how many were suppressed:
 * a dead KeyDB under load must not flood the logs with one line per request.
 */
export class RateLimitedLogger {
  readonly #logger: CacheLogger | undefined
  readonly #intervalMs: number
  readonly #last = new Map<string, { at: number; suppressed: number }>()

  constructor(logger: CacheLogger | undefined, intervalMs = 10_000) {
    this.#logger = logger
    this.#intervalMs = intervalMs
  }

  warn(kind: string, error: unknown, msg: string): void {
    if (!this.#logger) return
    const now = performance.now()
    const last = this.#last.get(kind)
    if (last && now - last.at < this.#intervalMs) {
      last.suppressed++
      return
    }
    this.#last.set(kind, { at: now, suppressed: 0 })
    this.#logger.warn({ err: error, kind, suppressed: last?.suppressed ?? 0 }, msg)
  }
}
