interface Slot<V> {
  value: V
  size: number
  /** Insertion counter when the slot was (re)inserted: how far from eviction it is. */
  tick: number
}

/**
 * A Map-ordered LRU bounded by entry count and by bytes. Map keeps insertion order, so the first key
 * is the next to go. A hit re-inserts its key only once it has drifted into the older three quarters:
 * hot keys then cost one Map lookup per hit instead of a delete and a set, and no recently used key
 * is ever the one evicted.
 */
export class Lru<V> {
  readonly #map = new Map<string, Slot<V>>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #refreshDistance: number
  #bytes = 0
  #tick = 0

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries
    this.#maxBytes = maxBytes
    this.#refreshDistance = Math.max(1, Math.floor(maxEntries / 4))
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
    if (this.#tick - slot.tick >= this.#refreshDistance) {
      this.#map.delete(key)
      slot.tick = ++this.#tick
      this.#map.set(key, slot)
    }
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
    this.#map.set(key, { value, size, tick: ++this.#tick })
    this.#bytes += size
    while (this.#map.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#map.keys().next().value as string
      this.delete(oldest)
    }
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
