import type { CallTraceContext } from '../tracing/channels.js'
import { noteCall } from '../tracing/trace.js'
import type { StoreBudget } from './budget.js'
import type { Signals } from './events.js'
import type { Failures } from './failures.js'
import { waitBounded } from './flight.js'
import type { CachePolicy } from './policy.js'
import { type ReadParts, readThrough } from './read-through.js'
import { withinSoftDeadline } from './soft-deadline.js'
import type { FillTicket } from './ticket.js'
import { entryFromValue, valueOfEntry } from './values.js'

export interface LoadParts extends ReadParts {
  failures: Failures
  signals: Signals
  /** Work that must finish before close() resolves. */
  track(task: Promise<unknown>): void
}

export interface LoadCall<T> {
  loader: () => T | Promise<T>
  tags: readonly string[] | undefined
  forceFresh: boolean
  /** The call's trace (`fastkey:cache:call`), when someone listens: told what the read decided. */
  trace?: CallTraceContext | undefined
}

/**
 * Cache-aside for a service call: the read-through decision, then, when this call leads the load, the
 * loader with its soft deadline (`timeoutMs`: serve the stale copy, let the loader finish in the
 * background) and stale-if-error. The loader's result is returned even when it cannot be cached.
 */
export async function loadThrough<T>(
  parts: LoadParts,
  key: string,
  policy: CachePolicy,
  call: LoadCall<T>,
): Promise<T> {
  const decision = await readThrough(parts, key, policy, {
    route: undefined,
    tags: call.tags,
    tagged: false,
    forceFresh: call.forceFresh,
    noFill: false,
    followerWaitMs: undefined,
    followerOnError: 'share',
    // A failing loader in a background refresh is the origin's failure (counted by the `load` event),
    // not the store's: it must not reach the breaker.
    refresh: (ticket) => runLoader(parts, ticket, call).then(noop, noop),
  })
  if (call.trace) noteCall(call.trace, decision.kind, 'lookup' in decision ? decision.lookup.tier : undefined)
  switch (decision.kind) {
    case 'hit':
    case 'stale':
      return valueOfEntry(decision.lookup.entry, policy) as T
    case 'shared':
      return decision.value as T
    case 'failed':
      throw decision.error
    case 'vary':
      // A route's vary marker under a service key: the key is shared with a route; load, do not store.
      return call.loader()
    case 'load':
      return decision.ticket.leading ? lead(parts, decision.ticket, call, decision.budget) : call.loader()
  }
}

async function lead<T>(
  parts: LoadParts,
  ticket: FillTicket,
  call: LoadCall<T>,
  budget: StoreBudget | undefined,
): Promise<T> {
  const loading = runLoader(parts, ticket, call, budget)
  const outcome = await withinSoftDeadline(parts, ticket, loading, call.forceFresh)
  if ('value' in outcome) return outcome.value
  if ('stale' in outcome) {
    noteCall(call.trace, 'stale', outcome.stale.tier)
    return valueOfEntry(outcome.stale.entry, ticket.policy) as T
  }
  return staleOrThrow(ticket, outcome.error, call.trace)
}

function staleOrThrow<T>(ticket: FillTicket, error: unknown, trace: CallTraceContext | undefined): T {
  const copy = ticket.staleOnError()
  if (!copy) throw error
  // Answered with a stale copy instead of the failed (or slow) load.
  noteCall(trace, 'stale', copy.tier)
  return valueOfEntry(copy.entry, ticket.policy) as T
}

/**
 * Runs the loader as the leader of `ticket` and ends the ticket with its outcome. Resolves once the
 * result is stored, or when the call's store `budget` is spent (the write goes on in the background,
 * tracked for close()): a slow store delays a call by one deadline at most.
 */
async function runLoader<T>(
  parts: LoadParts,
  ticket: FillTicket,
  call: LoadCall<T>,
  budget?: StoreBudget,
): Promise<T> {
  let value: T
  try {
    value = await call.loader()
  } catch (error) {
    await ticket.fail(error)
    throw error
  }
  const entry = entryFromValue(ticket.key, value, ticket.policy, parts, ticket)
  const storing = ticket.complete({ entry, outcome: 'value', value }, call.tags)
  if (budget === undefined) await storing
  else {
    const startedAt = performance.now()
    const loopAtStart = performance.eventLoopUtilization()
    await waitBounded(storing, budget.remainingMs())
    budget.charge(startedAt, loopAtStart)
  }
  return value
}

function noop(): void {}
