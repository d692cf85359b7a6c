import type { TagProvider, TagVerdict } from '../extension/tag-provider.js'
import type { CacheStore } from '../stores/types.js'
import { budgetFor, type StoreBudget } from './budget.js'
import type { Coherence } from './coherence.js'
import { decodeStored, isVaryMarker } from './entry.js'
import { FAILED, type Failures } from './failures.js'
import { type Found, freshnessOf, type Lookup, storeTtlMs } from './freshness.js'
import type { L1Tier } from './l1.js'
import type { CachePolicy } from './policy.js'

/**
 * Tier lookup: the in-process tier (synchronous), then the store behind the circuit breaker, with
 * the tag provider's verdict on entries that recorded tags; a fresh store hit is promoted to L1 unless
 * an invalidation was heard while it was read.
 */
export class Tiers {
  readonly #store: CacheStore
  readonly #l1: L1Tier | undefined
  readonly #failures: Failures
  readonly #tags: TagProvider | undefined
  readonly #coherence: Coherence

  constructor(
    store: CacheStore,
    l1: L1Tier | undefined,
    failures: Failures,
    tags: TagProvider | undefined,
    coherence: Coherence,
  ) {
    this.#store = store
    this.#l1 = l1
    this.#failures = failures
    this.#tags = tags
    this.#coherence = coherence
  }

  /**
   * Looks in the in-process tier, then the store. `undefined` on a miss, `null` when the store could
   * not answer (failure, deadline or open circuit): the caller then touches the store no more for
   * this request, so one request never waits on more than one deadline. Synchronous on an L1 hit.
   */
  lookup(key: string, policy: CachePolicy): Lookup | Promise<Lookup | undefined | null> {
    return this.lookupL1(key, policy) ?? this.lookupStore(key, policy).then(entryOnly)
  }

  /** The in-process tier only: synchronous, for the hot path. Only fresh entries live there. */
  lookupL1(key: string, policy: CachePolicy): Lookup | undefined {
    const l1 = this.#l1
    if (!policy.l1 || !l1 || !this.#coherence.trusted) return undefined
    const hit = l1.get(key)
    if (!hit) return undefined
    // A tagged entry is only as good as its tags: a provider answers from memoised versions (sync);
    // when it cannot (a promise) or the entry is no longer valid, the store path decides.
    if (hit.entry.tags !== '' && this.#tags) {
      let verdict: TagVerdict | Promise<TagVerdict>
      try {
        verdict = this.#tags.check(hit.entry.tags)
      } catch {
        verdict = 'invalid'
      }
      if (verdict !== 'valid') {
        if (typeof verdict === 'string') l1.delete(key)
        else verdict.catch(() => {})
        return undefined
      }
    }
    return { entry: hit.entry, freshness: 'fresh', ageMs: hit.ageMs, tier: 'l1' }
  }

  /** A new budget for one request's calls to the store (none for a store without deadlines). */
  budget(): StoreBudget | undefined {
    return budgetFor(this.#store.deadlineMs)
  }

  /** The store only; a vary marker is returned as found (the route adapter follows it). */
  async lookupStore(
    key: string,
    policy: CachePolicy,
    budget?: StoreBudget,
  ): Promise<Found | undefined | null> {
    const epoch = this.#coherence.epoch
    const stored = await this.#failures.call('read', key, () => this.#store.get(key), budget)
    if (stored === FAILED) return null
    if (stored === undefined) return undefined
    const entry = decodeStored(stored.value)
    if (entry === undefined) {
      this.#failures.report('decode', new Error('foreign or corrupt value'), key)
      return undefined
    }
    if (isVaryMarker(entry)) return { vary: entry }
    const ageMs = Math.max(0, storeTtlMs(entry) - stored.ttlMs)
    let freshness = freshnessOf(entry, ageMs)
    if (entry.tags !== '' && this.#tags) {
      let verdict = this.#verdict(entry.tags)
      if (typeof verdict !== 'string') verdict = await verdict
      if (verdict === 'invalid') return undefined
      // Soft invalidation: the entry is treated as if its fresh window had just ended.
      if (verdict === 'stale' && freshness === 'fresh') freshness = freshnessOf(entry, entry.freshMs)
    }
    if (freshness === 'expired') return undefined
    if (freshness === 'fresh' && policy.l1 && this.#l1 && this.#coherence.mayKeep(epoch))
      this.#l1.set(key, entry, ageMs)
    return { entry, freshness, ageMs, tier: 'store' }
  }

  /** A provider's verdict; synchronous answers (memoised versions) cost no microtask hop. */
  #verdict(recorded: string): TagVerdict | Promise<TagVerdict> {
    const failed = (error: unknown): TagVerdict => {
      this.#failures.report('read', error)
      return 'invalid'
    }
    try {
      const verdict = this.#tags!.check(recorded)
      return typeof verdict === 'string' ? verdict : verdict.catch(failed)
    } catch (error) {
      return failed(error)
    }
  }
}

/** A lookup for callers that store no routes (service calls): a vary marker is a miss for them. */
export function entryOnly(found: Found | undefined | null): Lookup | undefined | null {
  return found && 'vary' in found ? undefined : found
}
