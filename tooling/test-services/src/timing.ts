/**
 * Keeps this thread busy for `ms`, as synchronous work does (a huge JSON.stringify): the event loop
 * cannot run, replies arriving meanwhile wait unread in the socket.
 */
export function holdEventLoop(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // Nothing: the point is that the event loop cannot run.
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A promise with its resolve/reject exposed, to pause a loader or handler at a chosen point. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passed; resolves the time it took. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 25,
): Promise<number | undefined> {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started
    await sleep(everyMs)
  }
  return undefined
}

/** Whether `check` became true within `timeoutMs` (polled every 20 ms). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  return (await waitUntil(check, timeoutMs, 20)) !== undefined
}
