/** Error of a deadline that passed; `code` lets callers tell it from a server error. */
export class DeadlineError extends Error {
  readonly code = 'ETIMEDOUT'
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms`. The original promise keeps running
 * (ioredis has no cancellation); its later rejection is handled here, so it cannot surface as an
 * unhandled rejection. One timer per call, no extra promise race: callers batch work so that one call
 * covers many requests.
 *
 * The verdict waits for the poll phase that follows the timer: after a long turn of this process's
 * event loop (a burst of requests, a big synchronous serialization) the timers phase comes before
 * the sockets are read, so a reply that arrived in time would otherwise still be unread when the
 * timer fires. That made a healthy KeyDB time out, and three such timeouts opened the circuit.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (!settled) reject(onTimeout())
      })
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
