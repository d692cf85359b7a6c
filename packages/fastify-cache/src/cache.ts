import { randomBytes } from 'node:crypto'
import { type BreakerOptions, CircuitBreaker } from './breaker.js'
import { BUS_CLEAR, BUS_KEYS_CHANGED, BUS_KEYS_DELETED, Bus } from './bus.js'
import {
  type CacheEntry,
  decodeEntry,
  encodeEntry,
  type Freshness,
  freshnessOf,
  storeTtlMs,
} from './entry.js'
import { errors } from './errors.js'
import { CacheEmitter, type HitTier, type StoreOperation } from './events.js'
import type { Fill, FlightResult, LeaderFill } from './flight.js'
import { Flight } from './flight.js'
import { normalizeKey } from './key.js'
import { L1Tier } from './l1.js'
import { type CacheLogger, RateLimitedLogger } from './log.js'
import {
  type CachePolicy,
  type CachePolicyOptions,
  DEFAULT_POLICY,
  type L1Options,
  POLICY_KEYS,
  type ResolvedLock,
  rejectUnknownKeys,
  resolvePolicy,
} from './options.js'
import type { Serializer } from './serializer.js'
import { MemoryStore } from './store/memory.js'
import type { CacheStore } from './store/types.js'
import type { TagProvider, TagVerdict } from './tags.js'
import { type WaitOutcome, waitForFill } from './wait.js'

export interface CacheOptions extends Omit<CachePolicyOptions, 'l1'> {
  /** Where entries live. @default a new MemoryStore (embedded mode) */
  store?: CacheStore
  /** The in-process tier, kept coherent through the bus; `false` = none. @default false */
  l1?: L1Options | false
  /** How values of service calls become bytes. @default JSON */
  serializer?: Serializer
  /** Skips the store after repeated failures. */
  breaker?: BreakerOptions
  /** Tag provider (@fastkey/cache-tags). */
  tags?: TagProvider
  /** Receives rate-limited warnings about store failures. */
  logger?: CacheLogger
}

/** Per-call options of service methods. */
export interface CallOptions extends CachePolicyOptions {
  serializer?: Serializer
  /** Tags of the value (needs a tag provider). */
  tags?: readonly string[]
  /** Skip reading the cache, load and store (an admin refresh). @default false */
  forceFresh?: boolean
}

export interface Lookup {
  entry: CacheEntry
  freshness: Freshness
  ageMs: number
  tier: HitTier
}

/**
 * How long delete() waits for its eviction message to come back on the bus: once it has, KeyDB has
 * handed it to every instance, whose L1 drops the key as soon as it reads its socket.
 */
export const BUS_CONFIRM_MS = 100

const ENGINE_KEYS = [...POLICY_KEYS, 'store', 'breaker', 'tags', 'logger']

/**
 * The framework-free cache engine: cache-aside reads with stampede protection, stale-while-revalidate,
 * stale-if-error and an optional coherent in-process tier, over a KeyDB or in-memory store.
 * A failing store never fails a call: it degrades to the loader.
 */
export class Cache {
  readonly events = new CacheEmitter()
  readonly store: CacheStore
  readonly defaults: CachePolicy
  readonly instanceId = randomBytes(6).toString('base64url')
  readonly #l1: L1Tier | undefined
  readonly #bus: Bus
  readonly #breaker: CircuitBreaker
  readonly #tags: TagProvider | undefined
  readonly #log: RateLimitedLogger
  readonly #ownsStore: boolean
  readonly #flights = new Map<string, Flight>()
  readonly #background = new Set<Promise<unknown>>()
  readonly #wakers = new Map<string, Set<() => void>>()
  #closing = false
  #busStarted: Promise<void>
  /** Bumped by every invalidation heard on the bus: a read that overlapped one is not kept in L1. */
  #invalidations = 0

  constructor(options: CacheOptions = {}) {
    const fail = (what: string) => new errors.FST_CACHE_INVALID_OPTION(what)
    if (typeof options !== 'object' || options === null)
      throw fail(`expected an object, got ${String(options)}`)
    rejectUnknownKeys(options, ENGINE_KEYS, fail)
    const { store, l1, breaker, tags, logger, ...policy } = options
    this.defaults = resolvePolicy(policy, DEFAULT_POLICY, fail)
    this.#ownsStore = store === undefined
    this.store = store ?? new MemoryStore()
    if (typeof this.store.get !== 'function' || typeof this.store.set !== 'function')
      throw fail('store: expected a CacheStore (MemoryStore, KeydbStore or your own)')
    this.#l1 = resolveL1(l1, fail)
    this.#tags = tags
    this.#log = new RateLimitedLogger(logger)
    this.#breaker = new CircuitBreaker(breaker ?? {}, (state) => {
      if (this.events.has('circuit')) this.events.emit('circuit', { state })
    })
    this.#bus = new Bus(this.store, this.instanceId, {
      reset: () => {
        this.#invalidations++
        this.#l1?.clear()
      },
      error: (error) => this.#storeFailed('bus', error),
    })
    this.#bus.on(BUS_KEYS_CHANGED, (payload, fromSelf) =>
      this.#keysChanged(payload.split('\n'), fromSelf, false),
    )
    this.#bus.on(BUS_KEYS_DELETED, (payload, fromSelf) =>
      this.#keysChanged(payload.split('\n'), fromSelf, true),
    )
    this.#bus.on(BUS_CLEAR, (_payload, fromSelf) => {
      this.#invalidations++
      if (!fromSelf) this.#l1?.clear()
    })
    this.#busStarted = this.#bus.start().catch((error) => this.#storeFailed('bus', error))
    tags?.attach?.(this)
  }

  /** The tag provider, if any. */
  get tagProvider(): TagProvider | undefined {
    return this.#tags
  }

  /** The bus, for extensions (tags) that broadcast their own messages. */
  get bus(): Bus {
    return this.#bus
  }

  get circuitState() {
    return this.#breaker.state
  }

  /** Entries and bytes in the in-process tier (0 without one). */
  get l1Stats(): { entries: number; bytes: number } {
    return { entries: this.#l1?.size ?? 0, bytes: this.#l1?.bytes ?? 0 }
  }

  /**
   * Resolves once the bus subscription is confirmed, or after `timeoutMs` if the store is down
   * (tests and benchmarks wait for it; requests never need to).
   */
  async ready(timeoutMs = 2_000): Promise<void> {
    await this.#busStarted
    // The subscription is confirmed asynchronously (SUBSCRIBE acknowledged): wait for it, bounded.
    const deadline = performance.now() + timeoutMs
    while (!this.#bus.healthy && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  }

  /** A policy from per-call or per-route options over the engine defaults. */
  policy(
    options?: CachePolicyOptions & { serializer?: Serializer },
    fail?: (what: string) => Error,
  ): CachePolicy {
    return resolvePolicy(options, this.defaults, fail)
  }

  // ---------------------------------------------------------------- service API

  /** The value of a fresh entry, or `undefined`. */
  async get<T = unknown>(key: string, options?: CallOptions): Promise<T | undefined> {
    const k = normalizeKey(key)
    const policy = this.policy(options)
    const found = await this.lookup(k, policy)
    if (found?.freshness !== 'fresh') {
      if (this.events.has('miss')) this.events.emit('miss', { key: k })
      return undefined
    }
    if (this.events.has('hit')) this.events.emit('hit', { key: k, tier: found.tier })
    return this.#valueOf(found.entry, policy) as T
  }

  /** Values of fresh entries, `undefined` for the others; concurrent reads share round trips. */
  getMany<T = unknown>(keys: readonly string[], options?: CallOptions): Promise<Array<T | undefined>> {
    return Promise.all(keys.map((key) => this.get<T>(key, options)))
  }

  /** Stores a value unconditionally. Resolves whether it was stored (a store failure resolves false). */
  async set(key: string, value: unknown, options?: CallOptions): Promise<boolean> {
    const k = normalizeKey(key)
    const policy = this.policy(options)
    this.#validateTags(options?.tags)
    const entry = this.#entryFromValue(k, value, policy)
    if (!entry) return false
    let tags = ''
    if (options?.tags && this.#tags) {
      const sealed = await this.#tags
        .seal(await this.#tags.begin(options.tags), options.tags, { key: k, ttlMs: storeTtlMs(entry) })
        .catch(() => undefined)
      if (sealed === undefined) return false
      tags = sealed
    }
    return this.#write(k, { ...entry, tags }, policy, undefined)
  }

  /**
   * Deletes keys everywhere: the store, every instance's in-process tier, and fills in flight (they
   * will not be written). Rejects when the store could not be reached: an invalidation never
   * succeeds silently.
   */
  async delete(keys: string | readonly string[]): Promise<number> {
    const list = (typeof keys === 'string' ? [keys] : keys).map(normalizeKey)
    for (const key of list) this.#l1?.delete(key)
    this.forgetLoadsInFlight(list)
    let removed: number
    try {
      removed = await this.store.delete(list)
    } catch (error) {
      this.#storeFailed('delete', error)
      throw error
    }
    if (this.events.has('delete')) this.events.emit('delete', { keys: list })
    await this.#publishKeys(list, BUS_CONFIRM_MS, BUS_KEYS_DELETED)
    return removed
  }

  /**
   * Invalidates every entry carrying one of `tags`, on every instance: 'hard' (default) makes them
   * misses, 'soft' makes them stale. Rejects when the invalidation could not be recorded.
   */
  async invalidateTags(tags: readonly string[], options: { mode?: 'soft' | 'hard' } = {}): Promise<void> {
    if (!this.#tags) throw new errors.FST_CACHE_NO_TAG_PROVIDER()
    const mode = options.mode ?? 'hard'
    if (mode !== 'soft' && mode !== 'hard')
      throw new errors.FST_CACHE_INVALID_OPTION(`mode: expected 'soft' or 'hard', got ${String(mode)}`)
    this.forgetLoadsInFlight()
    await this.#tags.invalidate(tags, mode)
    if (this.events.has('invalidate')) this.events.emit('invalidate', { tags, mode })
  }

  /** Removes every entry of the namespace (SCAN, never KEYS) and clears every in-process tier. */
  async clear(): Promise<number> {
    this.#l1?.clear()
    this.forgetLoadsInFlight()
    const removed = await this.store.clear()
    await this.#bus
      .publish(BUS_CLEAR, '', BUS_CONFIRM_MS)
      .catch((error) => this.#storeFailed('publish', error))
    return removed
  }

  /**
   * Cache-aside: the cached value when fresh; otherwise one load per key across every instance
   * (in-process single-flight plus the cross-instance lock), stale-while-revalidate and
   * stale-if-error as configured. The loader's result is returned even when it cannot be cached.
   */
  async getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: CallOptions): Promise<T> {
    const k = normalizeKey(key)
    const policy = this.policy(options)
    const tags = options?.tags
    this.#validateTags(tags)
    const found = options?.forceFresh ? undefined : await this.lookup(k, policy)
    if (found === null) return this.#load(k, policy, loader, tags, undefined, false, true)
    if (found?.freshness === 'fresh') {
      if (this.events.has('hit')) this.events.emit('hit', { key: k, tier: found.tier })
      return this.#valueOf(found.entry, policy) as T
    }
    if (found?.freshness === 'stale') {
      if (this.events.has('stale')) this.events.emit('stale', { key: k, reason: 'revalidate' })
      this.refreshInBackground(k, policy, async (fill) => {
        await this.#runLoader(fill, loader, tags)
      })
      return this.#valueOf(found.entry, policy) as T
    }
    if (this.events.has('miss')) this.events.emit('miss', { key: k })
    return this.#load(k, policy, loader, tags, found, options?.forceFresh === true, false)
  }

  /** Wraps a function so its results are cached under `key(...args)`. */
  wrap<A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    options: CallOptions & { key: (...args: A) => string },
  ): (...args: A) => Promise<Awaited<R>> {
    const { key, ...callOptions } = options
    this.policy(callOptions)
    this.#validateTags(callOptions.tags)
    return (...args: A) => this.getOrSet(key(...args), () => fn(...args), callOptions) as Promise<Awaited<R>>
  }

  /** Resolves when no background refresh is running. */
  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
  }

  /** Waits for background refreshes, then releases the bus and what the engine created. */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    await this.drain()
    await this.#bus.close().catch(() => {})
    await this.#tags?.close?.()
    if (this.#ownsStore) await this.store.close()
  }

  // ---------------------------------------------------------------- building blocks (route adapter)

  /** Looks in the in-process tier only: synchronous, for the hot path. */
  lookupL1(key: string, policy: CachePolicy): Lookup | undefined {
    if (!policy.l1 || !this.#l1 || !this.#bus.healthy) return undefined
    const hit = this.#l1.get(key)
    if (!hit) return undefined
    // A tagged entry is only as good as its tags: a provider answers from memoised versions (sync);
    // when it cannot (a promise) or the entry is no longer valid, the store path decides.
    if (hit.entry.tags !== '' && this.#tags) {
      let verdict: TagVerdict | Promise<TagVerdict>
      try {
        verdict = this.#tags.check(hit.entry.tags)
      } catch {
        verdict = 'invalid'
      }
      if (verdict !== 'valid') {
        if (typeof verdict === 'string') this.#l1.delete(key)
        else verdict.catch(() => {})
        return undefined
      }
    }
    return { entry: hit.entry, freshness: 'fresh', ageMs: hit.ageMs, tier: 'l1' }
  }

  /**
   * Looks in the in-process tier, then the store. Resolves `undefined` on a miss and `null` when the
   * store could not answer (failure, deadline or open circuit): the caller then skips the store for the
   * rest of the request, so one request never waits on more than one deadline.
   */
  lookup(key: string, policy: CachePolicy): Promise<Lookup | undefined | null> {
    const l1 = this.lookupL1(key, policy)
    if (l1) return Promise.resolve(l1)
    return this.lookupStore(key, policy)
  }

  async lookupStore(key: string, policy: CachePolicy): Promise<Lookup | undefined | null> {
    if (!this.#breaker.allow()) return null
    const invalidationsBefore = this.#invalidations
    let stored: Awaited<ReturnType<CacheStore['get']>>
    try {
      stored = await this.store.get(key)
      this.#breaker.success()
    } catch (error) {
      this.#storeFailed('read', error)
      return null
    }
    if (stored === undefined) return undefined
    const entry = decodeEntry(stored.value)
    if (entry === undefined) {
      if (this.events.has('error'))
        this.events.emit('error', { operation: 'decode', error: new Error('foreign or corrupt value'), key })
      return undefined
    }
    const ageMs = Math.max(0, storeTtlMs(entry) - stored.ttlMs)
    let freshness = freshnessOf(entry, ageMs)
    if (entry.tags !== '' && this.#tags) {
      let verdict = this.#checkTags(entry.tags)
      if (typeof verdict !== 'string') verdict = await verdict
      if (verdict === 'invalid') return undefined
      // Soft invalidation: the entry is treated as if its fresh window had just ended.
      if (verdict === 'stale' && freshness === 'fresh') freshness = freshnessOf(entry, entry.freshMs)
    }
    if (freshness === 'expired') return undefined
    if (
      freshness === 'fresh' &&
      policy.l1 &&
      this.#l1 &&
      this.#bus.healthy &&
      invalidationsBefore === this.#invalidations
    )
      this.#l1.set(key, entry, ageMs)
    return { entry, freshness, ageMs, tier: 'store' }
  }

  /**
   * Starts a load of `key`: joins this process's load of the key if there is one, else takes the
   * cross-instance lock. Without the lock it waits for the holder's fill (bus notification or polling)
   * up to `lock.waitMs`, then loads itself. With `wait: false` (background refresh) it gives up instead.
   */
  async beginFill(
    key: string,
    policy: CachePolicy,
    options: {
      tags?: readonly string[] | undefined
      wait?: boolean
      route?: string | undefined
      tagged?: boolean
      /** The store just failed for this request: coalesce in-process only, touch the store no more. */
      storeDown?: boolean
    } = {},
  ): Promise<Fill> {
    const existing = this.#flights.get(key)
    if (existing) return { role: 'follower', key, flight: existing }
    const flight = new Flight(key)
    this.#flights.set(key, flight)
    const fill: LeaderFill = {
      role: 'leader',
      key,
      policy,
      flight,
      token: undefined,
      generation: null,
      tagCapture: undefined,
      tagFailed: false,
      startedAt: performance.now(),
      route: options.route,
      done: false,
    }
    if (options.storeDown) {
      // generation stays null: nothing will be stored for this load.
    } else if (policy.lock && this.#breaker.allow()) {
      const token = randomBytes(12).toString('base64url')
      fill.token = token
      try {
        const lock = await this.store.acquireLock(key, token, policy.lock.ttlMs)
        this.#breaker.success()
        fill.generation = lock.generation
        if (!lock.acquired) {
          if (options.wait === false) {
            fill.token = undefined
            this.#endFlight(fill, { outcome: 'none' })
            return { role: 'busy', key }
          }
          const waited = await this.#waitForRemoteFill(key, policy, options.route, token)
          if (waited && 'filled' in waited) {
            fill.token = undefined
            this.#endFlight(fill, { entry: waited.filled.entry, outcome: 'none' })
            return { role: 'filled', key, entry: waited.filled.entry, ageMs: waited.filled.ageMs }
          }
          if (waited) fill.generation = waited.acquired.generation
          else {
            // Waited long enough: load without the lock (the token is kept: release is compare-and-delete).
            fill.generation = await this.#readGeneration(key)
          }
        }
      } catch (error) {
        // An ambiguous acquire may still have taken the lock: keep the token, release is compare-and-delete.
        this.#storeFailed('lock', error)
        fill.generation = null
      }
    } else if (this.#breaker.allow()) {
      fill.generation = await this.#readGeneration(key)
    }
    if (
      this.#tags &&
      !options.storeDown &&
      fill.generation !== null &&
      (options.tags !== undefined || options.tagged)
    ) {
      try {
        fill.tagCapture = await this.#tags.begin(options.tags)
      } catch (error) {
        fill.tagFailed = true
        this.#storeFailed('read', error)
      }
    }
    fill.startedAt = performance.now()
    return fill
  }

  /**
   * Ends a load: shares the result with this process's followers, stores the entry (only if no
   * delete or tag invalidation raced the load), tells other instances and releases the lock.
   * Safe to call twice; the second call does nothing.
   */
  async completeFill(fill: LeaderFill, result: FlightResult, tags?: readonly string[]): Promise<boolean> {
    if (fill.done) return false
    fill.done = true
    fill.flight.settle(result)
    // Requests arriving from now on must not be handed this result: an invalidation may land before
    // it is stored, and the store (conditional write, tag seal) decides whether it may be served.
    this.#detach(fill.flight)
    let written = false
    try {
      if (result.entry) written = await this.#storeFill(fill, result.entry, tags)
    } finally {
      if (fill.token) {
        const token = fill.token
        fill.token = undefined
        await this.store.releaseLock(fill.key, token).catch((error) => this.#storeFailed('unlock', error))
      }
    }
    return written
  }

  /**
   * `completeFill` without making the caller wait for the store: this process's followers get the
   * result at once, the write and the lock release go on in the background (close() waits for them).
   * A response then never waits on a store deadline after its handler ran.
   */
  completeFillInBackground(fill: LeaderFill, result: FlightResult, tags?: readonly string[]): void {
    this.#track(
      this.completeFill(fill, result, tags).catch((error) => this.#storeFailed('set', error, fill.key)),
    )
  }

  /** Runs `run` as a background refresh of `key` (one per key across instances); close() waits for it. */
  refreshInBackground(
    key: string,
    policy: CachePolicy,
    run: (fill: LeaderFill) => Promise<void>,
    route?: string,
  ): void {
    if (this.#closing || this.#flights.has(key)) return
    const task = (async () => {
      const fill = await this.beginFill(key, policy, { wait: false, tagged: true, route })
      if (fill.role !== 'leader') return
      try {
        await run(fill)
      } finally {
        await this.completeFill(fill, { outcome: 'none' })
      }
    })().catch((error) => this.#storeFailed('read', error))
    this.#track(task)
  }

  /** Builds an entry from a response or value; `undefined` (counted) when it cannot be cached. */
  makeEntry(
    key: string,
    policy: CachePolicy,
    init: { status: number; contentType: string; etag: string; body: Buffer; negative: boolean },
    route?: string,
  ): CacheEntry | undefined {
    if (init.body.length > policy.maxValueBytes) {
      if (this.events.has('skip'))
        this.events.emit('skip', { key, reason: 'too-large', bytes: init.body.length, route })
      return undefined
    }
    const baseTtl = init.negative ? (policy.negativeTtl as number) : policy.ttl
    const freshMs =
      policy.jitter > 0 ? baseTtl + Math.floor(Math.random() * policy.jitter * baseTtl) : baseTtl
    return {
      ...init,
      tags: '',
      freshMs,
      staleMs: init.negative ? 0 : policy.staleWhileRevalidate,
      graceMs: init.negative ? 0 : policy.staleIfError,
    }
  }

  /** Records a store failure: breaker, event, rate-limited log. Never throws. */
  storeFailed(operation: StoreOperation | 'bus' | 'serialize', error: unknown, key?: string): void {
    this.#storeFailed(operation, error, key)
  }

  // ---------------------------------------------------------------- internals

  async #load<T>(
    key: string,
    policy: CachePolicy,
    loader: () => T | Promise<T>,
    tags: readonly string[] | undefined,
    staleCopy: Lookup | undefined,
    forceFresh: boolean,
    storeDown: boolean,
  ): Promise<T> {
    const fill = await this.beginFill(key, policy, { tags, storeDown })
    if (fill.role === 'filled') return this.#valueOf(fill.entry, policy) as T
    if (fill.role === 'follower') {
      const shared = await fill.flight.promise
      if (shared.entry) return this.#valueOf(shared.entry, policy) as T
      if (shared.outcome === 'value') return shared.value as T
      if (shared.outcome === 'error') return this.#staleOnError(key, policy, staleCopy, shared.error) as T
      return loader()
    }
    if (fill.role === 'busy') return loader()
    const running = this.#runLoader(fill, loader, tags)
    if (policy.timeoutMs !== false && staleCopy && !forceFresh) {
      const timeoutMs = policy.timeoutMs
      const outcome = await Promise.race([
        running.then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref()),
      ])
      if (outcome === undefined) {
        if (this.events.has('stale')) this.events.emit('stale', { key, reason: 'timeout' })
        this.#track(running.catch(() => {}))
        return this.#valueOf(staleCopy.entry, policy) as T
      }
      if ('error' in outcome) return this.#staleOnError(key, policy, staleCopy, outcome.error) as T
      return outcome.value as T
    }
    try {
      return await running
    } catch (error) {
      return this.#staleOnError(key, policy, staleCopy, error) as T
    }
  }

  /** Runs a service loader as the leader of `fill` and completes the fill with its outcome. */
  async #runLoader<T>(
    fill: LeaderFill,
    loader: () => T | Promise<T>,
    tags: readonly string[] | undefined,
  ): Promise<T> {
    let value: T
    try {
      value = await loader()
    } catch (error) {
      this.#emitLoad(fill, false)
      await this.completeFill(fill, { outcome: 'error', error })
      throw error
    }
    this.#emitLoad(fill, true)
    const entry = this.#entryFromValue(fill.key, value, fill.policy)
    await this.completeFill(fill, { entry, outcome: 'value', value }, tags)
    return value
  }

  #emitLoad(fill: LeaderFill, ok: boolean): void {
    if (this.events.has('load'))
      this.events.emit('load', {
        key: fill.key,
        durationMs: performance.now() - fill.startedAt,
        ok,
        route: fill.route,
      })
  }

  #staleOnError(key: string, policy: CachePolicy, staleCopy: Lookup | undefined, error: unknown): unknown {
    if (staleCopy && staleCopy.ageMs - staleCopy.entry.freshMs < staleCopy.entry.graceMs) {
      if (this.events.has('stale')) this.events.emit('stale', { key, reason: 'error' })
      return this.#valueOf(staleCopy.entry, policy)
    }
    throw error
  }

  async #storeFill(
    fill: LeaderFill,
    entry: CacheEntry,
    tags: readonly string[] | undefined,
  ): Promise<boolean> {
    // Unknown generation or failed tag capture: a delete or invalidation might have raced us. Skip.
    if (fill.generation === null || fill.tagFailed) return false
    let recorded = ''
    if (fill.tagCapture !== undefined && this.#tags) {
      const sealed = await this.#tags
        .seal(fill.tagCapture, tags ?? [], { key: fill.key, ttlMs: storeTtlMs(entry) })
        .catch(() => undefined)
      if (sealed === undefined) return false
      recorded = sealed
    }
    return this.#write(
      fill.key,
      recorded ? { ...entry, tags: recorded } : entry,
      fill.policy,
      fill.generation,
      fill.route,
    )
  }

  async #write(
    key: string,
    entry: CacheEntry,
    policy: CachePolicy,
    generation: string | undefined,
    route?: string,
  ): Promise<boolean> {
    const bytes = encodeEntry(entry)
    const invalidationsBefore = this.#invalidations
    let written = false
    if (this.#breaker.allow()) {
      try {
        written = await this.store.set(key, bytes, storeTtlMs(entry), generation)
        this.#breaker.success()
      } catch (error) {
        this.#storeFailed('set', error, key)
      }
    }
    if (this.events.has('set')) this.events.emit('set', { key, bytes: bytes.length, written, route })
    if (!written) return false
    this.#l1?.delete(key)
    // An eviction heard while the write was in flight may concern this key: do not keep it in L1.
    if (policy.l1 && this.#l1 && this.#bus.healthy && invalidationsBefore === this.#invalidations)
      this.#l1.set(key, entry, 0)
    await this.#publishKeys([key])
    return true
  }

  #entryFromValue(key: string, value: unknown, policy: CachePolicy): CacheEntry | undefined {
    const negative = value === undefined || value === null
    if (negative && policy.negativeTtl === false) return undefined
    let body: Buffer
    try {
      body = value === undefined ? Buffer.alloc(0) : policy.serializer.serialize(value)
    } catch (error) {
      this.#storeFailed('serialize', error, key)
      if (this.events.has('skip')) this.events.emit('skip', { key, reason: 'serialize' })
      return undefined
    }
    return this.makeEntry(key, policy, {
      status: negative ? 404 : 200,
      contentType: '',
      etag: '',
      body,
      negative,
    })
  }

  #valueOf(entry: CacheEntry, policy: CachePolicy): unknown {
    if (entry.negative) return entry.body.length === 0 ? undefined : null
    return policy.serializer.deserialize(entry.body)
  }

  /** A provider's verdict; synchronous answers (memoised versions) cost no microtask hop. */
  #checkTags(recorded: string): TagVerdict | Promise<TagVerdict> {
    const failed = (error: unknown): TagVerdict => {
      this.#storeFailed('read', error)
      return 'invalid'
    }
    try {
      const verdict = this.#tags!.check(recorded)
      return typeof verdict === 'string' ? verdict : verdict.catch(failed)
    } catch (error) {
      return failed(error)
    }
  }

  #validateTags(tags: readonly string[] | undefined): void {
    if (tags !== undefined && this.#tags?.validate) this.#tags.validate(tags)
  }

  async #readGeneration(key: string): Promise<string | null> {
    try {
      const generation = await this.store.generation(key)
      this.#breaker.success()
      return generation
    } catch (error) {
      this.#storeFailed('generation', error, key)
      return null
    }
  }

  #waitForRemoteFill(
    key: string,
    policy: CachePolicy,
    route: string | undefined,
    token: string,
  ): Promise<WaitOutcome> {
    const lock = policy.lock as ResolvedLock
    return waitForFill({
      key,
      waitMs: lock.waitMs,
      read: () => this.lookupStore(key, policy),
      tryAcquire: () => this.store.acquireLock(key, token, lock.ttlMs),
      wakers: this.#wakers,
      onDone: (durationMs, outcome) => {
        if (this.events.has('lockWait')) this.events.emit('lockWait', { key, durationMs, outcome, route })
      },
    })
  }

  #keysChanged(keys: string[], fromSelf: boolean, deleted: boolean): void {
    this.#invalidations++
    for (const key of keys) {
      if (!fromSelf) this.#l1?.delete(key)
      if (deleted && !fromSelf) this.#flights.delete(key)
      const wakers = this.#wakers.get(key)
      if (wakers) for (const wake of wakers) wake()
    }
  }

  async #publishKeys(keys: readonly string[], confirmMs = 0, kind = BUS_KEYS_CHANGED): Promise<void> {
    await this.#bus
      .publish(kind, keys.join('\n'), confirmMs)
      .catch((error) => this.#storeFailed('publish', error))
  }

  #endFlight(fill: LeaderFill, result: FlightResult): void {
    fill.done = true
    fill.flight.settle(result)
    this.#detach(fill.flight)
  }

  /** Removes `flight` from the single-flight map, unless an invalidation already replaced it. */
  #detach(flight: Flight): void {
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key)
  }

  /**
   * After an invalidation, loads already in flight may hold old data: requests that start from now on
   * must not join them (their own results are still decided by the store's fences). `keys` undefined:
   * every load in flight (a tag invalidation does not say which keys it touches).
   */
  forgetLoadsInFlight(keys?: readonly string[]): void {
    if (keys === undefined) this.#flights.clear()
    else for (const key of keys) this.#flights.delete(key)
  }

  #track(task: Promise<unknown>): void {
    this.#background.add(task)
    task.finally(() => this.#background.delete(task))
  }

  #storeFailed(
    operation: StoreOperation | 'bus' | 'serialize' | 'decode',
    error: unknown,
    key?: string,
  ): void {
    // A server refusing writes (out of memory, read-only replica) still answers reads: not a breaker failure.
    if (operation !== 'serialize' && operation !== 'bus' && operation !== 'decode' && !refusesWrites(error))
      this.#breaker.failure()
    if (this.events.has('error')) this.events.emit('error', { operation, error, key })
    this.#log.warn(operation, error, `fastkey cache: ${operation} failed, serving from the origin`)
  }
}

function refusesWrites(error: unknown): boolean {
  const message = error instanceof Error ? error.message : ''
  return message.startsWith('OOM ') || message.startsWith('READONLY ')
}

function resolveL1(l1: L1Options | false | undefined, fail: (what: string) => Error): L1Tier | undefined {
  if (l1 === undefined || l1 === false) return undefined
  if (typeof l1 !== 'object' || l1 === null) throw fail(`l1: expected an object or false, got ${String(l1)}`)
  rejectUnknownKeys(l1, ['maxEntries', 'maxBytes', 'ttl'], (what) => fail(`l1.${what}`))
  const maxEntries = l1.maxEntries ?? 10_000
  const maxBytes = l1.maxBytes ?? 32 * 1024 * 1024
  const ttl = l1.ttl ?? 5_000
  if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0)
    throw fail(`l1.maxEntries: expected a positive integer, got ${String(maxEntries)}`)
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)
    throw fail(`l1.maxBytes: expected a positive integer, got ${String(maxBytes)}`)
  if (typeof ttl !== 'number' || !(ttl > 0))
    throw fail(`l1.ttl: expected a positive number of ms, got ${String(ttl)}`)
  return new L1Tier(maxEntries, maxBytes, ttl)
}
