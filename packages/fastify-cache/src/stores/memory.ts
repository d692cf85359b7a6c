import { EventEmitter } from 'node:events'
import { integer, invalidOption, objectOf, rejectUnknownKeys } from '../engine/validate.js'
import { Lru } from '../util/lru.js'
import type { BusHandlers, CacheStore, LockResult, StoredValue, StoreLocation } from './types.js'

export interface MemoryStoreOptions {
  /** Most entries kept. @default 100_000 */
  maxEntries?: number
  /** Most bytes of values kept. @default 67_108_864 (64 MiB) */
  maxBytes?: number
  /** Clock in ms, injectable for tests. @default Date.now */
  now?: () => number
}

/** First byte of a vary marker (engine/entry.ts). */
const VARY_MAGIC = 0xfd

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
  readonly kind: string = 'memory'
  readonly location: StoreLocation = { kind: 'process', scope: this }
  readonly #entries: Lru<Slot>
  readonly #generations: Lru<string>
  readonly #locks = new Map<string, { token: string; expiresAt: number }>()
  readonly #bus = new EventEmitter()
  readonly #now: () => number
  #generationSeq = 0

  constructor(options: MemoryStoreOptions = {}) {
    const fail = (what: string) => invalidOption(`MemoryStore ${what}`)
    rejectUnknownKeys(objectOf(options, 'options', fail), ['maxEntries', 'maxBytes', 'now'], fail)
    const maxEntries =
      options.maxEntries === undefined ? 100_000 : integer(options.maxEntries, 'maxEntries', fail, 1)
    const maxBytes =
      options.maxBytes === undefined ? 64 * 1024 * 1024 : integer(options.maxBytes, 'maxBytes', fail, 1)
    if (options.now !== undefined && typeof options.now !== 'function')
      throw fail('now: expected a function returning ms')
    this.#entries = new Lru(maxEntries, maxBytes)
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
    if (generation !== undefined && this.#generations.peek(key) !== generation) return false
    const stored = this.#entries.set(
      key,
      { value, expiresAt: this.#now() + ttlMs },
      value.length + key.length,
    )
    // As in KeyDB, the generation stays while the entry does (its LRU is bounded by maxEntries):
    // other fills that read it may still land, the newest last.
    return stored
  }

  async delete(keys: readonly string[]): Promise<number> {
    let removed = 0
    for (const key of keys) {
      const slot = this.#entries.peek(key)
      if (slot && slot.expiresAt > this.#now()) removed++
      this.#entries.delete(key)
      this.#generations.delete(key)
    }
    return removed
  }

  async generation(key: string): Promise<string> {
    return this.#generationOf(key)
  }

  /** As in KeyDB, a key without a generation gets one, so an evicted one fails safe (fill refused). */
  #generationOf(key: string, fresh?: string): string {
    let generation = this.#generations.peek(key)
    if (generation === undefined) {
      generation = fresh ?? String(++this.#generationSeq)
      this.#generations.set(key, generation, 1)
    }
    return generation
  }

  async acquireLock(key: string, token: string, ttlMs: number, ifEmpty = false): Promise<LockResult> {
    const now = this.#now()
    const slot = ifEmpty ? this.#entries.peek(key) : undefined
    if (slot && slot.expiresAt > now) return { acquired: false, generation: '', filled: true }
    const held = this.#locks.get(key)
    const acquired = !held || held.expiresAt <= now
    if (acquired) this.#locks.set(key, { token, expiresAt: now + ttlMs })
    return { acquired, generation: this.#generationOf(key, token) }
  }

  async releaseLock(key: string, token: string, generation?: string): Promise<boolean> {
    // With a lock, the generation goes only while the lock is still ours (as in KeyDB's fkRelease).
    if (token !== '') {
      if (this.#locks.get(key)?.token !== token) return false
      this.#locks.delete(key)
    }
    if (generation && this.#generations.peek(key) === generation) this.#generations.delete(key)
    return token !== ''
  }

  async addVariant(
    key: string,
    variantKey: string,
    names: string,
    max: number,
    ttlMs: number,
  ): Promise<boolean> {
    const slot = this.#entries.get(key)
    const now = this.#now()
    const live = slot && slot.expiresAt > now ? slot : undefined
    const marker = live && live.value[0] === VARY_MAGIC ? live.value.toString('latin1', 1) : undefined
    let keys = marker === undefined ? '' : marker.slice(marker.indexOf('\n') + 1)
    if (!`\n${keys}`.includes(`\n${variantKey}\n`)) {
      if (keys.split('\n').length - 1 >= max) return false
      keys += `${variantKey}\n`
    }
    const value = Buffer.from(`\xfd${names}\n${keys}`, 'latin1')
    const expiresAt = Math.max(now + ttlMs, live?.expiresAt ?? 0)
    return this.#entries.set(key, { value, expiresAt }, value.length + key.length)
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
    // An in-process bus cannot lose messages: the subscription is confirmed at once.
    queueMicrotask(() => handlers.reset())
    return async () => {
      this.#bus.off('message', listener)
    }
  }

  async close(): Promise<void> {}
}
