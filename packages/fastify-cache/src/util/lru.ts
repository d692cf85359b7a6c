interface Slot<V> {
  value: V
  size: number
  /** Read since it was inserted or last spared. */
  used: boolean
}

/** Most used keys one insert spares before the oldest goes anyway (bounds the work of one set). */
const MAX_SPARED = 32

/**
 * A Map-ordered LRU bounded by entry count and by bytes (second chance, "CLOCK"). Map keeps insertion
 * order, so the first key is the next to go. A hit only marks its slot used: one Map lookup, whatever
 * the number of keys (re-inserting on hits made every hit a delete and a set once keys outnumbered a
 * quarter of the bound). Eviction spares the oldest key if it was used (moved to the newest end,
 * mark cleared), so a key read since it came in is not the one evicted while unused keys remain
 * within the next MAX_SPARED.
 */
export class Lru<V> {
  readonly #map = new Map<string, Slot<V>>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  #bytes = 0

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries
    this.#maxBytes = maxBytes
  }

  get size(): number {
    return this.#map.size
  }

  get bytes(): number {
    return this.#bytes
  }

  get(key: string): V | undefined {
    const slot = this.#map.get(key)
    if (slot === undefined) return undefined
    slot.used = true
    return slot.value
  }

  /** Looks without touching recency. */
  peek(key: string): V | undefined {
    return this.#map.get(key)?.value
  }

  /** Stores `value`; a value larger than the whole byte budget is not kept. Returns whether it was kept. */
  set(key: string, value: V, size: number): boolean {
    this.delete(key)
    if (size > this.#maxBytes) return false
    // Room first, then the new key: it is never a candidate for its own eviction.
    let spared = 0
    while (
      this.#map.size > 0 &&
      (this.#map.size >= this.#maxEntries || this.#bytes + size > this.#maxBytes)
    ) {
      const [oldest, slot] = this.#map.entries().next().value as [string, Slot<V>]
      if (slot.used && spared < MAX_SPARED) {
        slot.used = false
        this.#map.delete(oldest)
        this.#map.set(oldest, slot)
        spared++
      } else this.delete(oldest)
    }
    this.#map.set(key, { value, size, used: false })
    this.#bytes += size
    return true
  }

  delete(key: string): boolean {
    const slot = this.#map.get(key)
    if (slot === undefined) return false
    this.#map.delete(key)
    this.#bytes -= slot.size
    return true
  }

  clear(): void {
    this.#map.clear()
    this.#bytes = 0
  }

  keys(): IterableIterator<string> {
    return this.#map.keys()
  }
}
