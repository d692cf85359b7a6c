import type { EventLoopUtilization } from 'node:perf_hooks'
import { withDeadline } from '@fastkey/support'
import { storeErrors } from '../errors.js'
import { waitedMs } from '../util/waited.js'
import { CircuitBreaker } from './breaker.js'
import type { StoreBudget } from './budget.js'
import type { CacheEmitter, CircuitState, StoreOperation } from './events.js'
import { type CacheLogger, RateLimitedLogger } from './log.js'
import type { BreakerSettings } from './options.js'

/** What `Failures.call` answers when the store was not (or could not be) used. */
export const FAILED: unique symbol = Symbol('store call failed')

/** Everything that can fail without failing the caller: store operations, the bus, (de)serializing. */
export type FailedOperation = StoreOperation | 'bus' | 'serialize' | 'decode' | 'close'

/**
 * The one place a failure is reported: it counts against the circuit breaker (store operations
 * only), becomes an `error` event and a rate-limited log line. Never throws.
 */
export class Failures {
  readonly #events: CacheEmitter
  readonly #breaker: CircuitBreaker
  readonly #log: RateLimitedLogger
  readonly #slowCallMs: number
  #held: () => boolean = () => false

  constructor(events: CacheEmitter, breaker: BreakerSettings, logger: CacheLogger | undefined) {
    this.#events = events
    this.#slowCallMs = breaker.slowCallMs === false ? Number.POSITIVE_INFINITY : breaker.slowCallMs
    this.#log = new RateLimitedLogger(logger)
    this.#breaker = new CircuitBreaker(breaker, (state) => {
      if (events.has('circuit')) events.emit('circuit', { state })
    })
  }

  get circuitState(): CircuitState {
    return this.#breaker.state
  }

  /**
   * Leave the store alone while `held()` says so (invalidations not applied yet, or peers awaited
   * after a gap): every call answers FAILED without being made, and L1 is not trusted.
   */
  holdWhile(held: () => boolean): void {
    this.#held = held
  }

  get held(): boolean {
    return this.#held()
  }

  /** Whether a store call may be made now (closed circuit, or the half-open probe). */
  allow(): boolean {
    return this.#breaker.allow()
  }

  /**
   * A store call answered, `startedAt` (performance.now()) when it was sent: one that waited on the
   * store longer than `slowCallMs` is reported as a failure, so a KeyDB that answers everything late
   * opens the circuit like one that does not answer (requests then skip it and go to the origin).
   * The wait is the store's share of the call's time (waitedMs): not the time the reply spent
   * behind this process's own busy event loop.
   */
  success(
    operation: StoreOperation,
    startedAt: number,
    key?: string,
    loopAtStart?: EventLoopUtilization,
  ): void {
    const ms = waitedMs(startedAt, loopAtStart)
    if (ms < this.#slowCallMs) this.#breaker.success()
    else
      this.report(
        operation,
        new storeErrors.FST_CACHE_STORE_SLOW(operation, Math.round(ms), this.#slowCallMs),
        key,
      )
  }

  /**
   * One store call behind the circuit breaker and the request's `budget`: its value, or FAILED when
   * the circuit is open, the budget is spent, or the call failed (reported). The call is cut at the
   * budget's end; a call left running past it (a lock acquire) must be safe to abandon.
   */
  async call<T>(
    operation: StoreOperation,
    key: string | undefined,
    run: () => Promise<T>,
    budget?: StoreBudget,
  ): Promise<T | typeof FAILED> {
    const remaining = budget?.remainingMs()
    if (remaining === 0 || this.#held() || !this.#breaker.allow()) return FAILED
    const startedAt = performance.now()
    const loopAtStart = performance.eventLoopUtilization()
    try {
      const value =
        remaining === undefined || !budget!.cuts(remaining)
          ? await run()
          : await withDeadline(
              run(),
              remaining,
              () => new storeErrors.FST_CACHE_STORE_TIMEOUT(operation, Math.round(remaining)),
            )
      this.success(operation, startedAt, key, loopAtStart)
      // Held meanwhile (a read queued while the store was down and answered by a server restarted
      // before the bus came back): what it read may be what a held invalidation removes. A read has
      // no side effect to keep, so its answer is dropped; other operations completed and say so.
      if (operation === 'read' && this.#held()) return FAILED
      return value
    } catch (error) {
      this.report(operation, error, key)
      return FAILED
    } finally {
      budget?.charge(startedAt, loopAtStart)
    }
  }

  report(operation: FailedOperation, error: unknown, key?: string): void {
    // A server refusing writes (out of memory, read-only replica) still answers reads, and so does a
    // master whose replicas lag (`replicate`): neither is a breaker failure.
    if (
      operation !== 'serialize' &&
      operation !== 'replicate' &&
      operation !== 'bus' &&
      operation !== 'decode' &&
      operation !== 'close' &&
      !refusesWrites(error)
    )
      this.#breaker.failure()
    if (this.#events.has('error')) this.#events.emit('error', { operation, error, key })
    this.#log.warn(operation, error, `fastkey cache: ${operation} failed, serving from the origin`)
  }
}

// Redis answers `OOM command not allowed ...` / `READONLY You can't write ...`; KeyDB wraps the same
// refusal raised inside a script: `ERR Error running script (call to f_...): @user_script:...: -OOM ...`.
const WRITE_REFUSAL = /^(?:OOM|READONLY) |\s-(?:OOM|READONLY) /

/** Whether the server refused a write because it is out of memory or a read-only replica. */
export function refusesWrites(error: unknown): boolean {
  return error instanceof Error && WRITE_REFUSAL.test(error.message)
}
