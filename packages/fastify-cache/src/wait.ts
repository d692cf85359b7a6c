import type { Lookup } from './cache.js'

export interface WaitForFillOptions {
  key: string
  /** Longest wait, ms. */
  waitMs: number
  /** Reads the store (bypassing the in-process tier). */
  read(): Promise<Lookup | undefined | null>
  /** Where bus notifications for `key` find this waiter. */
  wakers: Map<string, Set<() => void>>
  onDone(durationMs: number, outcome: 'filled' | 'timeout'): void
}

const FIRST_POLL_MS = 10
const MAX_POLL_MS = 100

/**
 * Waits for another instance's fill of `key`: a bus notification triggers an immediate read, and
 * polling with doubling backoff (10 ms up to 100 ms) covers lost notifications. Never waits past
 * `waitMs`; resolves `undefined` then, and the caller loads itself.
 */
export function waitForFill(options: WaitForFillOptions): Promise<Lookup | undefined> {
  const { key, waitMs, wakers } = options
  const started = performance.now()
  return new Promise((resolve) => {
    let done = false
    let reading = false
    let again = false
    let pollMs = FIRST_POLL_MS
    let pollTimer: NodeJS.Timeout | undefined
    const finish = (found: Lookup | undefined) => {
      if (done) return
      done = true
      clearTimeout(pollTimer)
      clearTimeout(deadline)
      const set = wakers.get(key)
      set?.delete(wake)
      if (set?.size === 0) wakers.delete(key)
      options.onDone(performance.now() - started, found ? 'filled' : 'timeout')
      resolve(found)
    }
    const check = () => {
      if (done) return
      if (reading) {
        again = true
        return
      }
      reading = true
      options.read().then(
        (found) => {
          reading = false
          if (found && found.freshness === 'fresh') return finish(found)
          if (again) {
            again = false
            check()
          }
        },
        () => {
          reading = false
        },
      )
    }
    const poll = () => {
      check()
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS)
      pollTimer = setTimeout(poll, pollMs)
    }
    const wake = () => check()
    const deadline = setTimeout(() => finish(undefined), waitMs)
    const set = wakers.get(key) ?? new Set<() => void>()
    wakers.set(key, set)
    set.add(wake)
    pollTimer = setTimeout(poll, FIRST_POLL_MS)
  })
}
