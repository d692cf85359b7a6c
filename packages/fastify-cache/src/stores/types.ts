import type { Cluster, Redis } from 'ioredis'

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
  /**
   * Asked `ifEmpty` and the key has a value now (another fill stored it after the caller's lookup
   * missed): the lock was not taken, and no generation created (`generation` is then `''`).
   */
  filled?: boolean
}

/** Receives messages published on the bus by any instance (this one included). */
export interface BusHandlers {
  message(message: string): void
  /**
   * The subscription is confirmed, for the first time or again after a gap (messages may have been
   * lost meanwhile). A store whose bus cannot lose messages (in process) calls it once subscribed.
   */
  reset(): void
  /** The subscription is down: messages are being lost until `reset`. */
  down(): void
}

/**
 * Where a store keeps its data, for extensions that keep state beside the entries (a tag provider's
 * versions): in a KeyDB/Redis server, reachable through `client` under `keyPrefix`; in this process,
 * where engines sharing one `scope` object share data (as instances sharing one KeyDB do); or
 * somewhere extensions cannot reach (`opaque`: such a store works, but a tag provider refuses it).
 */
export type StoreLocation =
  | {
      kind: 'redis'
      client: Redis | Cluster
      keyPrefix: string
      /** The server-side key of an entry (for indexes that point at entries). */
      entryKey(key: string): string
    }
  | { kind: 'process'; scope: object }
  | { kind: 'opaque' }

/**
 * The contract every store implements; one test suite (`@fastkey/fastify-cache/testing`) runs against
 * each. Keys are the engine's logical keys; the store adds its prefix and layout. Every method may
 * reject: the engine applies deadlines and the circuit breaker and falls back to the origin.
 */
/** What `CacheStore.subscribe` resolves: unsubscribes; `restart`, if given, reconnects the subscriber. */
export type Subscription = (() => Promise<void>) & { restart?: () => void }

export interface CacheStore {
  /** A short name for logs and metric labels ('keydb', 'memory'). Never used to decide behaviour. */
  readonly kind: string
  readonly location: StoreLocation
  /**
   * The deadline the store gives each call, ms, if it applies one (KeydbStore: `commandTimeoutMs`).
   * The engine sizes from it the time one request may spend on the store in total, and which calls
   * count as slow against the circuit breaker. @default none (no budget, no slow calls)
   */
  readonly deadlineMs?: number
  /** Reads one entry. Implementations may batch concurrent reads into one round trip. */
  get(key: string): Promise<StoredValue | undefined>
  /**
   * Writes an entry for `ttlMs`, only if the key's generation still equals `generation`, which then
   * lives as long as the entry, never longer (pass `undefined` to write unconditionally). Resolves
   * whether it was written.
   */
  set(key: string, value: Buffer, ttlMs: number, generation: string | undefined): Promise<boolean>
  /**
   * Deletes entries and their generations, so fills started before lose (a fill compares the
   * generation it read for equality: a missing one never matches).
   */
  delete(keys: readonly string[]): Promise<number>
  /**
   * Current generation of a key; a key without one gets a new unique one (so a lost generation fails
   * safe). It lives while the fill that read it runs and then as long as the entry it wrote, or is
   * released with a fill that stored nothing; a fill that never ends leaves it for the store's bound
   * on a load's duration (KeydbStore `generationTtlMs`).
   */
  generation(key: string): Promise<string>
  /**
   * Takes the fill lock of a key with `token` for `ttlMs` (NX) and reads the key's generation. A key
   * without one gets `token` as its generation: a fill whose reply was lost (answered past its
   * deadline) still knows which generation its acquire may have created, and can remove it.
   * `ifEmpty` (a lookup just missed): if the key has a value by now, take nothing and answer
   * `filled`, so a fill that landed between the lookup and the acquire is not loaded again.
   */
  acquireLock(key: string, token: string, ttlMs: number, ifEmpty?: boolean): Promise<LockResult>
  /**
   * Ends a fill that took the lock or read a generation: releases the lock only if `token` still holds
   * it (never someone else's; `''`: no lock was taken), and removes `generation` if it is still the
   * key's, so a fill that stored nothing leaves no key behind; with a token, only if the lock was
   * still ours (the fill that took over an expired lock may have read that generation and will store
   * with it). Resolves whether the lock was released.
   */
  releaseLock(key: string, token: string, generation?: string): Promise<boolean>
  /**
   * Records `variantKey` as a variant of `key`: the value at `key` becomes a vary marker naming the
   * request headers (`names`, comma-separated, replacing the ones it had) and listing its variant keys,
   * kept at least `ttlMs`. Refused (resolves `false`) when the marker already lists `max` other keys.
   * One atomic step per key (concurrent instances cannot go past `max`).
   */
  addVariant(key: string, variantKey: string, names: string, max: number, ttlMs: number): Promise<boolean>
  /** Removes every entry under the store's prefix (incrementally, never KEYS). Resolves the count removed. */
  clear(): Promise<number>
  /**
   * Resolves once every replica of the server(s) this store writes to has applied its writes so far,
   * or throws (FST_CACHE_STORE_REPLICATION): invalidations call it, so that instances reading another
   * replica or another master (KeyDB active replication) cannot read what was just invalidated. A
   * store without replicas leaves it out.
   */
  awaitReplicas?(): Promise<void>
  /**
   * Publishes on the store's bus. With `everyNode` (a message its sender will wait to hear back, an
   * invalidation), a store of several servers that relay messages to each other (Redis Cluster)
   * publishes it on each of them: each has handed it to its own subscribers when it answers, which a
   * relay does not promise. Subscribers then hear it more than once; the bus drops the repeats.
   */
  publish(message: string, options?: { everyNode?: boolean }): Promise<void>
  /**
   * Subscribes to the store's bus; resolves a function that unsubscribes. It may carry `restart()`:
   * drop the subscriber's connection and subscribe again (the bus calls it when it has heard nothing,
   * not even its own heartbeat, for too long: a half-open connection).
   */
  subscribe(handlers: BusHandlers): Promise<Subscription>
  /**
   * How many times the store's connection to its server(s) became ready (any count; only a change
   * matters). A store that can lose its connection gives it: when it changes while the bus
   * subscription is down, the store came back first, possibly restarted with entries a peer's held
   * invalidation is about to remove, and the engine leaves it alone until the bus is back.
   */
  sessions?(): number
  /** Releases what the store created (never an injected client). */
  close(): Promise<void>
}
