import type { LockResult } from '../stores/types.js'
import { type Found, fillResult } from './freshness.js'

export interface WaitForFillOptions {
  key: string
  /** Longest wait, ms. */
  waitMs: number
  /** Reads the store (bypassing the in-process tier). `null`: the store did not answer. */
  read(): Promise<Found | undefined | null>
  /** Tries to take the fill lock (the holder may have released it without storing, or died). */
  tryAcquire(): Promise<LockResult>
  /** Where bus notifications for `key` find this waiter. */
  wakers: Map<string, Set<() => void>>
  onDone(durationMs: number, outcome: WaitEnd): void
}

/** How a wait ended, for the `lockWait` event: the holder's fill, the lock handed over, or the deadline. */
export type WaitEnd = 'filled' | 'acquired' | 'timeout'

/** How a wait ended: the holder's fill, the lock (now ours), or nothing before `waitMs`. */
export type WaitOutcome = { filled: Found } | { acquired: LockResult } | undefined

const FIRST_POLL_MS = 10
const MAX_POLL_MS = 100

/**
 * Waits for another holder's fill of `key`. Each check reads the entry and, if it is still missing,
 * tries the lock: a holder that released without storing (an uncacheable result, a raced
 * invalidation) or whose lock expired (it died) hands the load to this waiter at once. A bus
 * notification triggers a check; polling with doubling backoff (10 ms up to 100 ms) covers lost
 * notifications. Never waits past `waitMs`.
 */
export function waitForFill(options: WaitForFillOptions): Promise<WaitOutcome> {
  const { key, waitMs, wakers } = options
  const started = performance.now()
  return new Promise((resolve) => {
    let done = false
    let checking = false
    let again = false
    let pollMs = FIRST_POLL_MS
    let pollTimer: NodeJS.Timeout | undefined
    const finish = (outcome: WaitOutcome) => {
      if (done) return
      done = true
      clearTimeout(pollTimer)
      clearTimeout(deadline)
      const set = wakers.get(key)
      set?.delete(wake)
      if (set?.size === 0) wakers.delete(key)
      options.onDone(
        performance.now() - started,
        outcome === undefined ? 'timeout' : 'filled' in outcome ? 'filled' : 'acquired',
      )
      resolve(outcome)
    }
    const checkOnce = async (): Promise<WaitOutcome> => {
      const found = await options.read()
      // A fresh entry, or a vary marker (the holder's response varied: the caller reads its variant).
      const served = fillResult(found)
      if (served) return { filled: served }
      if (found === null) return undefined // store down: keep waiting on the bus or the deadline
      const lock = await options.tryAcquire()
      if (lock.filled) {
        // Stored between the read and the acquire: read it again.
        const filled = fillResult(await options.read())
        return filled ? { filled } : undefined
      }
      return lock.acquired ? { acquired: lock } : undefined
    }
    const check = () => {
      if (done) return
      if (checking) {
        again = true
        return
      }
      checking = true
      checkOnce().then(
        (outcome) => {
          checking = false
          if (outcome) return finish(outcome)
          if (again) {
            again = false
            check()
          }
        },
        () => {
          checking = false
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
