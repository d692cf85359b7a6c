/**
 * A Map-ordered LRU bounded by entry count and by bytes. Map keeps insertion order, so the first key
 * is the least recently used once hits re-insert.
 */
export class Lru<V> {
  readonly #map = new Map<string, { value: V; size: number }>()
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
    // Re-insert so the Map order tracks recency.
    this.#map.delete(key)
    this.#map.set(key, slot)
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
    this.#map.set(key, { value, size })
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
