import type { Freshness } from './entry.js'

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
export type CircuitState = 'closed' | 'open' | 'half-open'

/** Every event the engine emits, with its payload. `route` is the route pattern when the call came from a route. */
export interface CacheEvents {
  hit: { key: string; tier: HitTier; route?: string | undefined }
  miss: { key: string; route?: string | undefined }
  stale: { key: string; reason: 'revalidate' | 'error' | 'timeout'; route?: string | undefined }
  bypass: { reason: BypassReason; route?: string | undefined }
  lockWait: { key: string; durationMs: number; outcome: 'filled' | 'timeout'; route?: string | undefined }
  load: { key: string; durationMs: number; ok: boolean; route?: string | undefined }
  error: {
    operation: StoreOperation | 'decode' | 'serialize' | 'bus'
    error: unknown
    key?: string | undefined
  }
  set: { key: string; bytes: number; written: boolean; route?: string | undefined }
  skip: {
    key: string
    reason: 'too-large' | 'uncacheable' | 'serialize'
    bytes?: number
    route?: string | undefined
  }
  delete: { keys: readonly string[] }
  invalidate: { tags: readonly string[]; mode: 'soft' | 'hard' }
  circuit: { state: CircuitState }
  l1: { entries: number; bytes: number }
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

export type { Freshness }
