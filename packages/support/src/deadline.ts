/** Error of a deadline that passed; `code` lets callers tell it from a server error. */
export class DeadlineError extends Error {
  readonly code = 'ETIMEDOUT'
}

/**
 * `setTimeout` whose callback runs after the poll phase that follows the timer. After a long turn of
 * this process's event loop (a burst of requests, a big synchronous serialization) the timers phase
 * comes before the sockets are read: a deadline deciding there would call a reply that arrived in
 * time, and still waits unread, missing. That made a healthy KeyDB time out, and three such timeouts
 * opened the circuit. Clearing the timer before it fires cancels the callback.
 */
export function setPollAwareTimeout(callback: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(() => setImmediate(callback), ms)
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms`. The original promise keeps running
 * (ioredis has no cancellation); its later rejection is handled here, so it cannot surface as an
 * unhandled rejection. One timer per call, no extra promise race: callers batch work so that one call
 * covers many requests.
 *
 * The verdict waits for the poll phase that follows the timer (setPollAwareTimeout).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const timer = setPollAwareTimeout(() => {
      if (!settled) reject(onTimeout())
    }, ms)
    promise.then(
      (value) => {
        settled = true
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        settled = true
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/** `withDeadline` rejecting with a `DeadlineError` that says what got no reply. */
export function withNamedDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(promise, ms, () => new DeadlineError(`${what} got no reply within ${ms} ms`))
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
