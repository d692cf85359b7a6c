import type { HitTier } from '../engine/events.js'
import {
  type CallTraceContext,
  callChannel,
  type InvalidateTraceContext,
  invalidateChannel,
  type LoadTraceContext,
  type LockWaitTraceContext,
  loadChannel,
  lockWaitChannel,
} from './channels.js'
import { begin, finish } from './publish.js'

/**
 * The engine's side of the trace events, one function per kind. Callers check the channel's
 * `hasSubscribers` first (or these do, where the call is not on a hot path).
 */

/** Traces a service call: `run` fills in the outcome through the context it is given. */
export function traceCall<T>(
  operation: CallTraceContext['operation'],
  run: (context: CallTraceContext) => Promise<T>,
): Promise<T> {
  const context = begin(callChannel, { operation, outcome: undefined, tier: 'none' } as CallTraceContext)
  let running: Promise<T>
  try {
    running = run(context)
  } catch (error) {
    running = Promise.reject(error)
  }
  return running.then(
    (value) => {
      finish(callChannel, context)
      return value
    },
    (error: unknown) => {
      finish(callChannel, context, error)
      throw error
    },
  )
}

/** What a service call's read decided (the decision's kind, and the tier of what it served). */
export function noteCall(
  context: CallTraceContext | undefined,
  kind: string,
  tier: HitTier | undefined,
): void {
  if (!context) return
  context.outcome = kind === 'hit' ? 'hit' : kind === 'stale' ? 'stale' : 'miss'
  context.tier = tier ?? 'none'
}

/** Traces `delete`, `invalidateTags` or `clear` (not a hot path: the check is here). */
export function traceInvalidation<T>(
  operation: InvalidateTraceContext['operation'],
  count: number,
  mode: 'soft' | 'hard' | undefined,
  run: () => Promise<T>,
): Promise<T> {
  if (!invalidateChannel.hasSubscribers) return run()
  const context = begin(invalidateChannel, {
    operation,
    count,
    mode,
    outcome: undefined,
  } as InvalidateTraceContext)
  return run().then(
    (result) => {
      if (operation === 'clear' && typeof result === 'number') context.count = result
      context.outcome = 'ok'
      finish(invalidateChannel, context)
      return result
    },
    (error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code
      context.outcome = code === 'FST_CACHE_INVALIDATION_PENDING' ? 'pending' : 'error'
      finish(invalidateChannel, context, error)
      throw error
    },
  )
}

/** A leading fill's origin call begins (`undefined` when nobody listens). */
export function openLoad(route: string | undefined): LoadTraceContext | undefined {
  if (!loadChannel.hasSubscribers) return undefined
  return begin(loadChannel, { operation: 'load', route, outcome: undefined } as LoadTraceContext)
}

/** `ok` undefined: abandoned. A load the caller stopped waiting for stays `timeout`. */
export function closeLoad(context: LoadTraceContext, ok: boolean | undefined, error: unknown): void {
  if (context.outcome !== 'timeout') context.outcome = ok === undefined ? 'abandoned' : ok ? 'ok' : 'error'
  // A route's 5xx has no error object: the outcome says `error`, nothing is published on `error`.
  finish(loadChannel, context, ok === false ? error : undefined)
}

/** A wait for another instance's fill begins (`undefined` when nobody listens). */
export function openLockWait(route: string | undefined): LockWaitTraceContext | undefined {
  if (!lockWaitChannel.hasSubscribers) return undefined
  return begin(lockWaitChannel, { operation: 'lock-wait', route, outcome: undefined } as LockWaitTraceContext)
}

export function closeLockWait(
  context: LockWaitTraceContext | undefined,
  outcome: LockWaitTraceContext['outcome'],
): void {
  if (!context) return
  context.outcome = outcome
  finish(lockWaitChannel, context)
}
