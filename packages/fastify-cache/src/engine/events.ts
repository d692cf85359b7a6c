/** Where a hit came from. */
export type HitTier = 'l1' | 'store'
export type BypassReason =
  | 'method'
  | 'authorization'
  | 'cookie'
  | 'bypass-option'
  | 'head-miss'
  | 'vary-limit'
export type StoreOperation =
  | 'read'
  | 'set'
  | 'delete'
  | 'generation'
  | 'lock'
  | 'unlock'
  | 'publish'
  | 'clear'
  | 'invalidate'
  | 'replicate'
export type CircuitState = 'closed' | 'open' | 'half-open'
/**
 * Why a result was served but not stored. `vary`: the response varies on request headers its key did
 * not include yet (learned now: the next request is keyed on them); `vary-limit`: its URL already has
 * `maxVariants` variants.
 */
export type SkipReason = 'too-large' | 'uncacheable' | 'serialize' | 'invalid-tags' | 'vary' | 'vary-limit'
export type StaleReason = 'revalidate' | 'error' | 'timeout'

/** Every event the engine emits, with its payload. `route` is the route pattern when the call came from a route. */
export interface CacheEvents {
  hit: { key: string; tier: HitTier; route?: string | undefined }
  miss: { key: string; route?: string | undefined }
  stale: { key: string; reason: StaleReason; route?: string | undefined }
  bypass: { reason: BypassReason; route?: string | undefined }
  /** `filled`: another instance's fill arrived; `acquired`: the lock was handed over (this request loads); `timeout`: `lock.waitMs` passed. */
  lockWait: {
    key: string
    durationMs: number
    outcome: 'filled' | 'acquired' | 'timeout'
    route?: string | undefined
  }
  load: { key: string; durationMs: number; ok: boolean; route?: string | undefined }
  error: {
    operation: StoreOperation | 'decode' | 'serialize' | 'bus' | 'close'
    error: unknown
    key?: string | undefined
  }
  set: { key: string; bytes: number; written: boolean; route?: string | undefined }
  skip: {
    key: string
    reason: SkipReason
    bytes?: number
    route?: string | undefined
  }
  delete: { keys: readonly string[] }
  invalidate: { tags: readonly string[]; mode: 'soft' | 'hard' }
  /**
   * The invalidations held because the store could not be reached, after each change: queued (this
   * instance then leaves the store alone) or replayed (all zero: it uses the store again).
   */
  pending: { keys: number; tags: number; clear: boolean }
  circuit: { state: CircuitState }
}

export type CacheEventName = keyof CacheEvents
type Listener<E extends CacheEventName> = (event: CacheEvents[E]) => void

/**
 * A minimal typed emitter. Emitting sites check `has(name)` before building the payload, so nobody
 * listening costs one property read. Listener errors are swallowed: an observer must never break a
 * request.
 */
export class CacheEmitter {
  readonly #listeners: { [E in CacheEventName]?: Listener<E>[] } = {}

  on<E extends CacheEventName>(name: E, listener: Listener<E>): () => void {
    const list = (this.#listeners[name] ?? []) as Listener<E>[]
    list.push(listener)
    this.#listeners[name] = list as never
    return () => this.off(name, listener)
  }

  off<E extends CacheEventName>(name: E, listener: Listener<E>): void {
    const list = this.#listeners[name] as Listener<E>[] | undefined
    if (!list) return
    const index = list.indexOf(listener)
    if (index >= 0) list.splice(index, 1)
    if (list.length === 0) delete this.#listeners[name]
  }

  has(name: CacheEventName): boolean {
    return this.#listeners[name] !== undefined
  }

  emit<E extends CacheEventName>(name: E, event: CacheEvents[E]): void {
    const list = this.#listeners[name] as Listener<E>[] | undefined
    if (!list) return
    for (const listener of list) {
      try {
        listener(event)
      } catch {
        // An observer's bug must not fail a cache call.
      }
    }
  }
}

/**
 * The engine's side of the events: one method per event, the only place each one is emitted. Every
 * method checks for listeners before building its payload, so an event nobody listens to costs one
 * property read.
 */
export class Signals {
  readonly #events: CacheEmitter

  constructor(events: CacheEmitter) {
    this.#events = events
  }

  hit(key: string, tier: HitTier, route: string | undefined): void {
    if (this.#events.has('hit')) this.#events.emit('hit', { key, tier, route })
  }

  miss(key: string, route: string | undefined): void {
    if (this.#events.has('miss')) this.#events.emit('miss', { key, route })
  }

  stale(key: string, reason: StaleReason, route: string | undefined): void {
    if (this.#events.has('stale')) this.#events.emit('stale', { key, reason, route })
  }

  bypass(reason: BypassReason, route: string | undefined): void {
    if (this.#events.has('bypass')) this.#events.emit('bypass', { reason, route })
  }

  skip(key: string, reason: SkipReason, route: string | undefined, bytes?: number): void {
    if (!this.#events.has('skip')) return
    this.#events.emit('skip', bytes === undefined ? { key, reason, route } : { key, reason, route, bytes })
  }

  load(key: string, durationMs: number, ok: boolean, route: string | undefined): void {
    if (this.#events.has('load')) this.#events.emit('load', { key, durationMs, ok, route })
  }

  lockWait(
    key: string,
    durationMs: number,
    outcome: 'filled' | 'acquired' | 'timeout',
    route: string | undefined,
  ): void {
    if (this.#events.has('lockWait')) this.#events.emit('lockWait', { key, durationMs, outcome, route })
  }

  set(key: string, bytes: number, written: boolean, route: string | undefined): void {
    if (this.#events.has('set')) this.#events.emit('set', { key, bytes, written, route })
  }

  deleted(keys: readonly string[]): void {
    if (this.#events.has('delete')) this.#events.emit('delete', { keys })
  }

  invalidated(tags: readonly string[], mode: 'soft' | 'hard'): void {
    if (this.#events.has('invalidate')) this.#events.emit('invalidate', { tags, mode })
  }

  pending(keys: number, tags: number, clear: boolean): void {
    if (this.#events.has('pending')) this.#events.emit('pending', { keys, tags, clear })
  }
}
