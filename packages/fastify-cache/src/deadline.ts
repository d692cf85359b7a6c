/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms`. The original promise keeps
 * running (ioredis has no cancellation); its later rejection is swallowed so it cannot surface as an
 * unhandled rejection. One timer per call: callers batch work so that a call covers many requests.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
