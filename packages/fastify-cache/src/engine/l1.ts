import { Lru } from '../util/lru.js'
import type { CacheEntry } from './entry.js'

interface L1Slot {
  entry: CacheEntry
  /** performance.now() at which the entry was filled (for `age`). */
  filledAt: number
  /** performance.now() after which the slot is not used. */
  until: number
}

export interface L1Hit {
  entry: CacheEntry
  ageMs: number
}

/**
 * The in-process tier: fresh entries only, each kept at most `ttlMs` and never past its freshness.
 * Coherence across instances comes from the bus (evictions), not from this class.
 */
export class L1Tier {
  readonly #lru: Lru<L1Slot>
  readonly #ttlMs: number

  constructor(maxEntries: number, maxBytes: number, ttlMs: number) {
    this.#lru = new Lru(maxEntries, maxBytes)
    this.#ttlMs = ttlMs
  }

  get size(): number {
    return this.#lru.size
  }

  get bytes(): number {
    return this.#lru.bytes
  }

  get(key: string): L1Hit | undefined {
    const slot = this.#lru.get(key)
    if (slot === undefined) return undefined
    const now = performance.now()
    if (now >= slot.until) {
      this.#lru.delete(key)
      return undefined
    }
    return { entry: slot.entry, ageMs: now - slot.filledAt }
  }

  /** Keeps a fresh entry whose age is `ageMs`. */
  set(key: string, entry: CacheEntry, ageMs: number): void {
    const now = performance.now()
    const remainingFresh = entry.freshMs - ageMs
    if (remainingFresh <= 0) return
    const size =
      entry.body.length + entry.contentType.length + entry.etag.length + entry.tags.length + key.length + 64
    this.#lru.set(
      key,
      { entry, filledAt: now - ageMs, until: now + Math.min(remainingFresh, this.#ttlMs) },
      size,
    )
  }

  delete(key: string): void {
    this.#lru.delete(key)
  }

  clear(): void {
    this.#lru.clear()
  }
}
