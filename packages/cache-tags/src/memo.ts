import type { TagVersions } from './versions.js'

interface Slot {
  versions: TagVersions
  /** performance.now() after which the slot is not trusted. */
  until: number
}

/**
 * Tag versions this instance read recently, so reads of tagged entries need no round trip. Bounded
 * (least recently set go first) and short-lived. `epoch` moves on every eviction: a read that was in
 * flight when an eviction happened must not memoise what it brings back (it may predate the write).
 */
export class VersionMemo {
  readonly #slots = new Map<string, Slot>()
  readonly #ttlMs: number
  readonly #max: number
  #epoch = 0

  constructor(ttlMs: number, max: number) {
    this.#ttlMs = ttlMs
    this.#max = max
  }

  get epoch(): number {
    return this.#epoch
  }

  get size(): number {
    return this.#slots.size
  }

  get(tag: string, now: number): TagVersions | undefined {
    const slot = this.#slots.get(tag)
    if (slot === undefined) return undefined
    if (now < slot.until) return slot.versions
    this.#slots.delete(tag)
    return undefined
  }

  /** Memoises versions read when the epoch was `epoch`; ignored if an eviction happened since. */
  set(tag: string, versions: TagVersions, epoch: number, now: number): void {
    if (this.#ttlMs <= 0 || epoch !== this.#epoch) return
    this.#slots.delete(tag)
    this.#slots.set(tag, { versions, until: now + this.#ttlMs })
    if (this.#slots.size > this.#max) this.#slots.delete(this.#slots.keys().next().value as string)
  }

  evict(tags: Iterable<string>): void {
    this.#epoch++
    for (const tag of tags) this.#slots.delete(tag)
  }

  clear(): void {
    this.#epoch++
    this.#slots.clear()
  }
}
