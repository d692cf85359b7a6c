import { withNamedDeadline } from '@fastkey/support'
import type { SealResult, TagCapture, TagProvider } from '../extension/tag-provider.js'
import type { CacheStore } from '../stores/types.js'
import type { StoreBudget } from './budget.js'
import type { Coherence } from './coherence.js'
import { type CacheEntry, encodeEntry } from './entry.js'
import type { Signals } from './events.js'
import type { Failures } from './failures.js'
import { storeTtlMs } from './freshness.js'
import type { L1Tier } from './l1.js'
import type { EngineParts } from './parts.js'
import type { CachePolicy } from './policy.js'

/** What must still hold for a write to be allowed: the fences taken before the load. */
export interface WriteFence {
  /**
   * The key's generation read before the load: the write is refused if a delete changed it since.
   * `undefined` writes unconditionally (`set()`); `null` means it could not be read: nothing is stored.
   */
  generation: string | undefined | null
  /** The tag provider's capture from before the load; `failed` when taking it failed (nothing is stored). */
  capture?: { value: TagCapture } | 'failed' | undefined
  /** The entry's tags, sealed with the capture. */
  tags?: readonly string[] | undefined
  route?: string | undefined
  /** Asked right before the write, with the entry's store TTL: `false` keeps the entry out (a full vary marker). */
  gate?: ((ttlMs: number) => Promise<boolean>) | undefined
}

/**
 * Writes entries: seals their tags against the capture taken before the load, writes them to the store
 * only if no delete raced the load (conditional on the generation), keeps them in L1 unless an
 * invalidation was heard meanwhile, and tells the other instances.
 */
export class EntryWriter {
  readonly #store: CacheStore
  readonly #l1: L1Tier | undefined
  readonly #failures: Failures
  readonly #tags: TagProvider | undefined
  readonly #coherence: Coherence
  readonly #signals: Signals

  constructor(parts: Pick<EngineParts, 'store' | 'l1' | 'failures' | 'tags' | 'coherence' | 'signals'>) {
    this.#store = parts.store
    this.#l1 = parts.l1
    this.#failures = parts.failures
    this.#tags = parts.tags
    this.#coherence = parts.coherence
    this.#signals = parts.signals
  }

  /** Resolves whether the entry was stored. Never rejects: failures are reported. */
  async write(key: string, entry: CacheEntry, policy: CachePolicy, fence: WriteFence): Promise<boolean> {
    if (fence.generation === null || fence.capture === 'failed') return false
    let recorded = ''
    if (fence.capture !== undefined && this.#tags) {
      const sealed = await this.#seal(key, entry, fence.capture.value, fence.tags ?? [])
      if (!('recorded' in sealed)) {
        if (sealed.refused === 'invalid-tags') this.#signals.skip(key, 'invalid-tags', fence.route)
        return false
      }
      recorded = sealed.recorded
    }
    if (fence.gate && !(await fence.gate(storeTtlMs(entry)))) return false
    return this.#put(key, recorded ? { ...entry, tags: recorded } : entry, policy, fence)
  }

  /**
   * Records `variantKey` in the vary marker at `key` (see CacheStore.addVariant); `false` when the
   * marker is full or the store could not be reached (then the variant is not stored: fail safe).
   */
  async recordVariant(
    key: string,
    variantKey: string,
    names: string,
    max: number,
    ttlMs: number,
  ): Promise<boolean> {
    const recorded = await this.#failures.call('set', key, () =>
      this.#store.addVariant(key, variantKey, names, max, ttlMs),
    )
    return recorded === true
  }

  /**
   * The capture of `tags` before a load, or 'failed' (reported) when the provider could not take it
   * within what is left of the request's `budget`.
   */
  async capture(
    tags: readonly string[] | undefined,
    budget?: StoreBudget,
  ): Promise<{ value: TagCapture } | 'failed'> {
    const remaining = budget?.remainingMs()
    if (remaining === 0) return 'failed'
    const startedAt = performance.now()
    const loopAtStart = performance.eventLoopUtilization()
    try {
      const begun = this.#tags!.begin(tags)
      const value =
        remaining === undefined || !budget!.cuts(remaining)
          ? await begun
          : await withNamedDeadline(Promise.resolve(begun), remaining, 'the tag capture')
      return { value }
    } catch (error) {
      this.#failures.report('read', error)
      return 'failed'
    } finally {
      budget?.charge(startedAt, loopAtStart)
    }
  }

  async #seal(
    key: string,
    entry: CacheEntry,
    capture: TagCapture,
    tags: readonly string[],
  ): Promise<SealResult> {
    try {
      return await this.#tags!.seal(capture, tags, { key, ttlMs: storeTtlMs(entry) })
    } catch (error) {
      this.#failures.report('set', error, key)
      return { refused: 'unavailable' }
    }
  }

  async #put(key: string, entry: CacheEntry, policy: CachePolicy, fence: WriteFence): Promise<boolean> {
    const bytes = encodeEntry(entry)
    const epoch = this.#coherence.epoch
    const written =
      (await this.#failures.call('set', key, () =>
        this.#store.set(key, bytes, storeTtlMs(entry), fence.generation ?? undefined),
      )) === true
    this.#signals.set(key, bytes.length, written, fence.route)
    if (!written) return false
    this.#l1?.delete(key)
    // An eviction heard while the write was in flight may concern this key: do not keep it in L1.
    if (policy.l1 && this.#l1 && this.#coherence.mayKeep(epoch)) this.#l1.set(key, entry, 0)
    await this.#coherence.publishKeys([key])
    return true
  }
}
