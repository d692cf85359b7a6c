import { EventEmitter } from 'node:events'
import { Lru } from '../lru.js'
import type { BusHandlers, CacheStore, LockResult, StoredValue } from './types.js'

export interface MemoryStoreOptions {
  /** Most entries kept. @default 100_000 */
  maxEntries?: number
  /** Most bytes of values kept. @default 67_108_864 (64 MiB) */
  maxBytes?: number
  /** Clock in ms, injectable for tests. @default Date.now */
  now?: () => number
}

interface Slot {
  value: Buffer
  expiresAt: number
}

/**
 * The in-process store: the embedded default (no KeyDB), and a second implementation of the store
 * contract. Several engines in one process may share one MemoryStore; they then share entries, locks
 * and the bus, as instances sharing one KeyDB do.
 */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory'
  readonly #entries: Lru<Slot>
  readonly #generations: Lru<string>
  readonly #locks = new Map<string, { token: string; expiresAt: number }>()
  readonly #bus = new EventEmitter()
  readonly #now: () => number
  #generationSeq = 0

  constructor(options: MemoryStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000
    this.#entries = new Lru(maxEntries, options.maxBytes ?? 64 * 1024 * 1024)
    // Generations only fence fills in flight; keeping as many as entries bounds the memory they use.
    this.#generations = new Lru(maxEntries, Number.POSITIVE_INFINITY)
    this.#now = options.now ?? Date.now
    this.#bus.setMaxListeners(0)
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const slot = this.#entries.get(key)
    if (!slot) return undefined
    const ttlMs = slot.expiresAt - this.#now()
    if (ttlMs <= 0) {
      this.#entries.delete(key)
      return undefined
    }
    return { value: slot.value, ttlMs }
  }

  async set(key: string, value: Buffer, ttlMs: number, generation: string | undefined): Promise<boolean> {
    if (generation !== undefined && (this.#generations.peek(key) ?? '') !== generation) return false
    return this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs }, value.length + key.length)
  }

  async delete(keys: readonly string[]): Promise<number> {
    let removed = 0
    for (const key of keys) {
      const slot = this.#entries.peek(key)
      if (slot && slot.expiresAt > this.#now()) removed++
      this.#entries.delete(key)
      this.#generations.set(key, String(++this.#generationSeq), 1)
    }
    return removed
  }

  async generation(key: string): Promise<string> {
    return this.#generationOf(key)
  }

  /** As in KeyDB, a key without a generation gets one, so an evicted one fails safe (fill refused). */
  #generationOf(key: string): string {
    let generation = this.#generations.peek(key)
    if (generation === undefined) {
      generation = String(++this.#generationSeq)
      this.#generations.set(key, generation, 1)
    }
    return generation
  }

  async acquireLock(key: string, token: string, ttlMs: number): Promise<LockResult> {
    const held = this.#locks.get(key)
    const now = this.#now()
    const acquired = !held || held.expiresAt <= now
    if (acquired) this.#locks.set(key, { token, expiresAt: now + ttlMs })
    return { acquired, generation: this.#generationOf(key) }
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    if (this.#locks.get(key)?.token !== token) return false
    this.#locks.delete(key)
    return true
  }

  async clear(): Promise<number> {
    const count = this.#entries.size
    this.#entries.clear()
    return count
  }

  async publish(message: string): Promise<void> {
    // Asynchronous like a real bus: a publisher never re-enters its own handlers synchronously.
    queueMicrotask(() => this.#bus.emit('message', message))
  }

  async subscribe(handlers: BusHandlers): Promise<() => Promise<void>> {
    const listener = (message: string) => handlers.message(message)
    this.#bus.on('message', listener)
    return async () => {
      this.#bus.off('message', listener)
    }
  }

  async close(): Promise<void> {}
}
