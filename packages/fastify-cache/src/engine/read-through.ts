import type { StoreBudget } from './budget.js'
import type { VaryMarker } from './entry.js'
import type { Signals } from './events.js'
import type { Fills } from './fills.js'
import { waitBounded } from './flight.js'
import { type Lookup, servableOnError } from './freshness.js'
import type { CachePolicy } from './policy.js'
import type { FillTicket } from './ticket.js'
import type { Tiers } from './tiers.js'

/** What the caller does with one read: serve an entry, hand back a shared value, or run the origin. */
export type Decision =
  /** Serve this fresh entry (`x-cache: HIT`); `tagNames` when it comes from a load not sealed yet. */
  | { kind: 'hit'; lookup: Lookup; tagNames?: readonly string[] | undefined }
  /** Serve this stale entry (`x-cache: STALE`): revalidating in the background, or the origin failed. */
  | { kind: 'stale'; lookup: Lookup }
  /** Service calls: the value this process's load of the key produced (not cacheable, or not yet stored). */
  | { kind: 'shared'; value: unknown }
  /** Service calls: this process's load of the key failed with `error` and no stale copy may be served. */
  | { kind: 'failed'; error: unknown }
  /**
   * Run the origin, then end the ticket (`complete`, `fail` or `abandon`); `budget`: what is left of
   * the request's time on the store (a service call waits that long at most for its write).
   */
  | { kind: 'load'; ticket: FillTicket; budget?: StoreBudget | undefined }
  /**
   * Routes: the key holds a vary marker: responses vary on these request headers, read the variant
   * (with what is left of this request's `budget` on the store).
   */
  | { kind: 'vary'; marker: VaryMarker; key: string; budget: StoreBudget | undefined }

export interface ReadOptions {
  route: string | undefined
  /** Tags known before the load (service calls). */
  tags: readonly string[] | undefined
  /** The result carries tags computed after the load (routes with `tags`). */
  tagged: boolean
  /** Skip the lookup: load and store (an admin refresh). */
  forceFresh: boolean
  /** Run the origin without filling (HEAD has no body to store). */
  noFill: boolean
  /** Longest wait for this process's own load of the key, ms; `undefined`: until it settles. */
  followerWaitMs: number | undefined
  /**
   * When this process's load of the key failed: `share` hands the error to the caller (services do
   * not retry a loader that just failed), `retry` runs the origin again for this request (routes).
   */
  followerOnError: 'share' | 'retry'
  /**
   * Re-runs the origin in the background for a stale hit (stale-while-revalidate); `context` is what
   * the caller passed to `readThrough` (the route's request).
   */
  refresh(ticket: FillTicket, context: unknown): Promise<void>
}

export interface ReadParts {
  tiers: Tiers
  fills: Fills
  signals: Signals
  /** Whether the engine is closing (no new background refresh then). */
  closing(): boolean
}

/**
 * The read-through rules shared by routes and service calls: a fresh entry is a hit (synchronous from
 * L1), a stale one is served while one background refresh runs, anything else is a miss that joins
 * or leads the load of the key. Emits hit, stale and miss, each in one place.
 */
export function readThrough(
  parts: ReadParts,
  key: string,
  policy: CachePolicy,
  options: ReadOptions,
  context?: unknown,
  spent?: StoreBudget,
): Decision | Promise<Decision> {
  if (options.forceFresh) {
    parts.signals.miss(key, options.route)
    return load(parts, key, policy, options, undefined, false, spent ?? parts.tiers.budget(), false)
  }
  const l1 = parts.tiers.lookupL1(key, policy)
  if (l1) {
    parts.signals.hit(key, 'l1', options.route)
    if (policy.beta > 0) refreshEarly(parts, key, policy, l1, options, context)
    return { kind: 'hit', lookup: l1 }
  }
  // One deadline in total on the store for everything this request asks it before its answer.
  const budget = spent ?? parts.tiers.budget()
  return parts.tiers.lookupStore(key, policy, budget).then((found) => {
    if (found && 'vary' in found) return { kind: 'vary', marker: found.vary, key, budget }
    if (found?.freshness === 'fresh') {
      parts.signals.hit(key, 'store', options.route)
      if (policy.beta > 0) refreshEarly(parts, key, policy, found, options, context)
      return { kind: 'hit', lookup: found }
    }
    if (found?.freshness === 'stale') {
      parts.signals.stale(key, 'revalidate', options.route)
      if (!parts.closing())
        parts.fills.refreshInBackground(
          key,
          policy,
          (ticket) => options.refresh(ticket, context),
          options.route,
        )
      return { kind: 'stale', lookup: found }
    }
    parts.signals.miss(key, options.route)
    // Nothing at all (not a stale copy, not a store failure): a cold miss.
    return load(parts, key, policy, options, found ?? undefined, found === null, budget, found === undefined)
  })
}

/**
 * Probabilistic early refresh (XFetch, Vattani et al.): refresh a fresh entry in the background when
 * `loadMs × beta × −ln(random)` reaches its fresh time left. The closer to expiry and the slower its
 * load, the likelier; with many readers, one of them refreshes it shortly before it expires (one per
 * key and process, one per key across instances through the lock), instead of all missing at once.
 */
function refreshEarly(
  parts: ReadParts,
  key: string,
  policy: CachePolicy,
  lookup: Lookup,
  options: ReadOptions,
  context: unknown,
): void {
  const { entry, ageMs } = lookup
  if (entry.loadMs <= 0 || parts.closing()) return
  if (entry.loadMs * policy.beta * -Math.log(Math.random()) < entry.freshMs - ageMs) return
  parts.fills.refreshInBackground(key, policy, (ticket) => options.refresh(ticket, context), options.route)
}

async function load(
  parts: ReadParts,
  key: string,
  policy: CachePolicy,
  options: ReadOptions,
  staleCopy: Lookup | undefined,
  storeDown: boolean,
  budget: StoreBudget | undefined,
  coldMiss: boolean,
): Promise<Decision> {
  const { fills, signals } = parts
  const { route } = options
  if (options.noFill) return { kind: 'load', ticket: fills.passive(key, policy, route, staleCopy) }
  const fill = await fills.begin(key, policy, {
    tags: options.tags,
    tagged: options.tagged,
    route,
    storeDown,
    staleCopy,
    budget,
    coldMiss,
  })
  if (fill.role === 'leader') return { kind: 'load', ticket: fill.ticket, budget }
  if (fill.role === 'filled') {
    if ('vary' in fill.lookup) return { kind: 'vary', marker: fill.lookup.vary, key, budget }
    signals.hit(key, 'store', route)
    return { kind: 'hit', lookup: fill.lookup }
  }
  if (fill.role === 'busy') return { kind: 'load', ticket: fills.passive(key, policy, route, staleCopy) }
  const shared = await waitBounded(fill.flight.promise, options.followerWaitMs)
  if (shared?.entry) {
    signals.hit(key, 'store', route)
    const lookup: Lookup = { entry: shared.entry, freshness: 'fresh', ageMs: 0, tier: 'store' }
    return { kind: 'hit', lookup, tagNames: shared.tagNames }
  }
  if (shared?.outcome === 'value') return { kind: 'shared', value: shared.value }
  if (shared?.outcome === 'error') {
    // The origin just failed for the leader: a stale copy inside its grace window answers instead.
    if (servableOnError(staleCopy)) {
      signals.stale(key, 'error', route)
      return { kind: 'stale', lookup: staleCopy }
    }
    if (options.followerOnError === 'share') return { kind: 'failed', error: shared.error }
  }
  // The leader produced nothing cacheable (or is too slow): run the origin for this caller.
  return { kind: 'load', ticket: fills.passive(key, policy, route, staleCopy) }
}
