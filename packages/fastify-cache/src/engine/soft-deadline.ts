import type { Lookup } from './freshness.js'
import type { LoadParts } from './loader.js'
import type { FillTicket } from './ticket.js'

/** How an origin call ended under the soft deadline. */
export type SoftOutcome<T> = { value: T } | { error: unknown } | { stale: Lookup }

/**
 * The soft origin deadline (`timeoutMs`), for service loads and routes alike: when the origin has
 * not answered within `timeoutMs` and the lookup found a copy that may still be served, that copy
 * answers now (counted as `stale`, reason `timeout`) and the origin finishes in the background (its
 * result is stored as usual). Without a deadline or a copy, the origin is awaited.
 */
export async function withinSoftDeadline<T>(
  parts: Pick<LoadParts, 'signals' | 'track'>,
  ticket: FillTicket,
  running: Promise<T>,
  forceFresh = false,
): Promise<SoftOutcome<T>> {
  const { timeoutMs } = ticket.policy
  const copy = ticket.staleCopy
  if (timeoutMs === false || !copy || forceFresh) {
    try {
      return { value: await running }
    } catch (error) {
      return { error }
    }
  }
  const outcome = await settledWithin(running, timeoutMs)
  if (outcome !== undefined) return outcome
  parts.signals.stale(ticket.key, 'timeout', ticket.route)
  ticket.timedOut()
  parts.track(running.catch(() => {}))
  return { stale: copy }
}

function settledWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ value: T } | { error: unknown } | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve({ value })
      },
      (error: unknown) => {
        clearTimeout(timer)
        resolve({ error })
      },
    )
  })
}
