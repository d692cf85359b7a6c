/** What a store returns for a key: the stored bytes and the time the store will still keep them. */
export interface StoredValue {
  value: Buffer
  /** Remaining time to live reported by the store (server side for KeyDB), ms. */
  ttlMs: number
}

/** Result of taking the fill lock of a key. */
export interface LockResult {
  acquired: boolean
  /** The key's generation at that moment (created if missing): a fill is written only if it still holds. */
  generation: string
}

/** Receives messages published on the bus by any instance (this one included). */
export interface BusHandlers {
  message(message: string): void
  /** The subscription was (re)established after a gap: messages may have been lost. */
  reset(): void
  /** The subscription is down: messages are being lost until `reset`. */
  down(): void
}

/**
 * The contract every store implements; one test suite runs against each. Keys are the engine's
 * logical keys; the store adds its namespace and layout. Every method may reject (the engine applies
 * deadlines and the circuit breaker and falls back to the origin).
 */
export interface CacheStore {
  readonly kind: string
  /** Reads one entry. Implementations may batch concurrent reads into one round trip. */
  get(key: string): Promise<StoredValue | undefined>
  /**
   * Writes an entry for `ttlMs`, only if the key's generation still equals `generation`
   * (pass `undefined` to write unconditionally). Resolves whether it was written.
   */
  set(key: string, value: Buffer, ttlMs: number, generation: string | undefined): Promise<boolean>
  /** Deletes entries and gives each key a new generation, so fills started before lose. */
  delete(keys: readonly string[]): Promise<number>
  /** Current generation of a key; a key without one gets one (so a lost generation fails safe). */
  generation(key: string): Promise<string>
  /** Takes the fill lock of a key with `token` for `ttlMs` (NX) and reads the key's generation. */
  acquireLock(key: string, token: string, ttlMs: number): Promise<LockResult>
  /** Releases the lock only if `token` still holds it (never someone else's). */
  releaseLock(key: string, token: string): Promise<boolean>
  /** Removes every entry of the namespace (incrementally, without KEYS). Resolves the count removed. */
  clear(): Promise<number>
  /** Publishes on the namespace's bus. */
  publish(message: string): Promise<void>
  /** Subscribes to the namespace's bus; resolves a function that unsubscribes. */
  subscribe(handlers: BusHandlers): Promise<() => Promise<void>>
  /** Releases what the store created (never an injected client). */
  close(): Promise<void>
}
