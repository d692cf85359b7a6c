/** Error of a deadline that passed; `code` lets callers tell it from a server error. */
export class DeadlineError extends Error {
  readonly code = 'ETIMEDOUT'
}

/**
 * Settles like `promise`, or rejects with a `DeadlineError` after `ms`. The original promise keeps
 * running (ioredis has no cancellation); its later rejection is swallowed so it cannot surface as an
 * unhandled rejection.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => {})
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} got no reply within ${ms} ms`)), ms)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
