import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel'
import type { HitTier } from '../engine/events.js'

/**
 * The tracing channel names (`diagnostics_channel.tracingChannel(name)`): public API, stable. Each
 * publishes on Node's five sub-channels `tracing:<name>:start|end|asyncStart|asyncEnd|error`.
 */
export const LOOKUP_CHANNEL = 'fastkey:cache:lookup'
export const CALL_CHANNEL = 'fastkey:cache:call'
export const LOAD_CHANNEL = 'fastkey:cache:load'
export const LOCK_WAIT_CHANNEL = 'fastkey:cache:lock-wait'
export const INVALIDATE_CHANNEL = 'fastkey:cache:invalidate'

/** Where a value came from: the in-process tier, the store, or neither (a miss, a bypass). */
export type TraceTier = HitTier | 'none'

/**
 * One cached route request, from the lookup hook to the response (`asyncEnd` when it closes).
 * `outcome` is what `x-cache` said; `tier`, `outcome` and `status` are set when it ends.
 */
export interface LookupTraceContext {
  readonly operation: 'lookup'
  /** The route pattern (`/products/:id`), never the URL. */
  readonly route: string
  readonly method: string
  outcome: 'hit' | 'miss' | 'stale' | 'bypass' | undefined
  tier: TraceTier
  status: number | undefined
}

/** A service call (`get`, `getOrSet`, a `wrap`ped function); `outcome` and `tier` set when it ends. */
export interface CallTraceContext {
  readonly operation: 'get' | 'getOrSet' | 'wrap'
  outcome: 'hit' | 'miss' | 'stale' | undefined
  tier: TraceTier
  /** Set (with an `error` publish) when the call rejected. */
  error?: unknown
}

/**
 * One origin call of a leading fill (a route's handler, a service loader). `timeout`: the caller
 * stopped waiting at the soft deadline (`timeoutMs`) and served a stale copy; `abandoned`: the origin
 * gave no answer to store (an aborted request, a close).
 */
export interface LoadTraceContext {
  readonly operation: 'load'
  readonly route: string | undefined
  outcome: 'ok' | 'error' | 'timeout' | 'abandoned' | undefined
  error?: unknown
}

/**
 * A wait for another instance's fill (its lock was taken): `filled` (its value arrived), `acquired`
 * (the lock was handed over: this caller loads), `timeout` (`lock.waitMs` passed).
 */
export interface LockWaitTraceContext {
  readonly operation: 'lock-wait'
  readonly route: string | undefined
  outcome: 'filled' | 'acquired' | 'timeout' | undefined
}

/**
 * `delete`, `invalidateTags` or `clear`. `count`: the keys or tags the call names (for `clear`, the
 * entries removed, set when it ends); `pending`: the store could not be reached, the invalidation is
 * held and replayed (FST_CACHE_INVALIDATION_PENDING).
 */
export interface InvalidateTraceContext {
  readonly operation: 'delete' | 'invalidateTags' | 'clear'
  count: number
  readonly mode: 'soft' | 'hard' | undefined
  outcome: 'ok' | 'pending' | 'error' | undefined
  error?: unknown
}

export type TraceContext =
  | LookupTraceContext
  | CallTraceContext
  | LoadTraceContext
  | LockWaitTraceContext
  | InvalidateTraceContext

/**
 * Created once: the same channel objects are shared with every subscriber that asks Node for these
 * names. The engine publishes only after `hasSubscribers`, so nobody listening costs one check.
 */
export const lookupChannel: TracingChannel<unknown, LookupTraceContext> = tracingChannel(LOOKUP_CHANNEL)
export const callChannel: TracingChannel<unknown, CallTraceContext> = tracingChannel(CALL_CHANNEL)
export const loadChannel: TracingChannel<unknown, LoadTraceContext> = tracingChannel(LOAD_CHANNEL)
export const lockWaitChannel: TracingChannel<unknown, LockWaitTraceContext> =
  tracingChannel(LOCK_WAIT_CHANNEL)
export const invalidateChannel: TracingChannel<unknown, InvalidateTraceContext> =
  tracingChannel(INVALIDATE_CHANNEL)
