import { errors } from '../errors.js'
import type { TagProvider } from '../extension/tag-provider.js'
import type { CacheStore } from '../stores/types.js'
import { type CallTraceContext, callChannel } from '../tracing/channels.js'
import { noteCall, traceCall, traceInvalidation } from '../tracing/trace.js'
import { Engine } from './engine.js'
import type { CacheEmitter, CircuitState } from './events.js'
import { setEngine } from './internal.js'
import { normalizeKey } from './key.js'
import { loadThrough } from './loader.js'
import { type CacheOptions, type CallOptions, resolveCallOptions, resolveEngineOptions } from './options.js'
import type { CachePolicy } from './policy.js'
import { checkRequestOptions, type RouteRequestOptions, type RouteRequestResult } from './route-entries.js'
import { describeValue, invalidOption } from './validate.js'
import { entryFromValue, valueOfEntry } from './values.js'

/**
 * The framework-free cache engine's user API: cache-aside reads with stampede protection,
 * stale-while-revalidate, stale-if-error and an optional coherent in-process tier, over a KeyDB or
 * in-memory store. A failing store never fails a call: it degrades to the loader.
 */
export class Cache {
  readonly #engine: Engine

  constructor(options: CacheOptions = {}) {
    // Every option is checked before anything (bus subscription, store) is created.
    this.#engine = new Engine(resolveEngineOptions(options))
    setEngine(this, this.#engine)
  }

  /** Typed events for observers (metrics, tracing, logs). */
  get events(): CacheEmitter {
    return this.#engine.events
  }

  /** The store entries live in. */
  get store(): CacheStore {
    return this.#engine.store
  }

  /** The tag provider, if any. */
  get tagProvider(): TagProvider | undefined {
    return this.#engine.tags
  }

  /** The circuit breaker in front of the store: `open` while the store is skipped. */
  get circuitState(): CircuitState {
    return this.#engine.failures.circuitState
  }

  /**
   * Invalidations this instance could not apply (the store was unreachable), held until replayed; the
   * store is not used while any are (see `delete`).
   */
  get pendingInvalidations(): { keys: number; tags: number; clear: boolean } {
    return this.#engine.invalidations.counts
  }

  /** Entries and bytes in the in-process tier (0 without one). */
  get l1Stats(): { entries: number; bytes: number } {
    const l1 = this.#engine.l1
    return { entries: l1?.size ?? 0, bytes: l1?.bytes ?? 0 }
  }

  /** The value of a fresh entry, or `undefined`. */
  get<T = unknown>(key: string, options?: CallOptions): Promise<T | undefined> {
    // Traced only when someone listens: otherwise one check, no context built.
    if (callChannel.hasSubscribers) return traceCall('get', (trace) => this.#get<T>(key, options, trace))
    return this.#get<T>(key, options)
  }

  async #get<T>(
    key: string,
    options: CallOptions | undefined,
    trace?: CallTraceContext,
  ): Promise<T | undefined> {
    const engine = this.#engine
    const k = normalizeKey(key)
    const policy = this.#policy(options)
    const found = await engine.tiers.lookup(k, policy)
    if (found?.freshness !== 'fresh') {
      noteCall(trace, 'miss', undefined)
      engine.signals.miss(k, undefined)
      return undefined
    }
    noteCall(trace, 'hit', found.tier)
    engine.signals.hit(k, found.tier, undefined)
    return valueOfEntry(found.entry, policy) as T
  }

  /** Values of fresh entries, `undefined` for the others; concurrent reads share round trips. */
  getMany<T = unknown>(keys: readonly string[], options?: CallOptions): Promise<Array<T | undefined>> {
    return Promise.all(keys.map((key) => this.get<T>(key, options)))
  }

  /** Stores a value unconditionally. Resolves whether it was stored (a store failure resolves false). */
  async set(key: string, value: unknown, options?: CallOptions): Promise<boolean> {
    const engine = this.#engine
    const k = normalizeKey(key)
    const policy = this.#policy(options)
    const tags = this.#checkTags(options?.tags)
    const entry = entryFromValue(k, value, policy, engine)
    if (!entry) return false
    const capture = tags && engine.tags ? await engine.writer.capture(tags) : undefined
    return engine.writer.write(k, entry, policy, { generation: undefined, capture, tags })
  }

  /**
   * Cache-aside: the cached value when fresh; otherwise one load per key across every instance
   * (in-process single-flight plus the cross-instance lock), stale-while-revalidate and
   * stale-if-error as configured. The loader's result is returned even when it cannot be cached.
   */
  getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: CallOptions): Promise<T> {
    try {
      const k = normalizeKey(key)
      const policy = this.#policy(options)
      const tags = this.#checkTags(options?.tags)
      return this.#getOrSet('getOrSet', k, loader, policy, tags, options?.forceFresh === true)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Wraps a function so its results are cached under `key(...args)`; options are checked once, here. */
  wrap<A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    options: CallOptions & { key: (...args: A) => string },
  ): (...args: A) => Promise<Awaited<R>> {
    const { key, ...callOptions } = options ?? ({} as typeof options)
    if (typeof key !== 'function') throw invalidOption(`key: expected a function, got ${describeValue(key)}`)
    const policy = this.#policy(callOptions)
    const tags = this.#checkTags(callOptions.tags)
    const forceFresh = callOptions.forceFresh === true
    return (...args: A) => {
      try {
        return this.#getOrSet(
          'wrap',
          normalizeKey(key(...args)),
          () => fn(...args),
          policy,
          tags,
          forceFresh,
        ) as Promise<Awaited<R>>
      } catch (error) {
        return Promise.reject(error)
      }
    }
  }

  /**
   * Deletes keys everywhere: the store, every instance's in-process tier, and fills in flight (they
   * will not be written). When the store cannot be reached it rejects with
   * FST_CACHE_INVALIDATION_PENDING: the delete is kept and replayed before this instance uses the
   * store again (it never succeeds silently, and it is not lost).
   */
  delete(keys: string | readonly string[]): Promise<number> {
    try {
      const list = (typeof keys === 'string' ? [keys] : keys).map(normalizeKey)
      return traceInvalidation('delete', list.length, undefined, () =>
        this.#engine.invalidations.delete(list),
      )
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Invalidates every entry carrying one of `tags`, on every instance: 'hard' (default) makes them
   * misses, 'soft' makes them stale. When the store cannot be reached it rejects with
   * FST_CACHE_INVALIDATION_PENDING, and the invalidation is kept and replayed (as `delete`).
   */
  async invalidateTags(tags: readonly string[], options: { mode?: 'soft' | 'hard' } = {}): Promise<void> {
    const engine = this.#engine
    if (!engine.tags) throw new errors.FST_CACHE_NO_TAG_PROVIDER()
    const { mode = 'hard', ...rest } = options
    const unknown = Object.keys(rest)[0]
    if (unknown !== undefined) throw invalidOption(`${unknown}: unknown option (known: mode)`)
    if (mode !== 'soft' && mode !== 'hard')
      throw invalidOption(`mode: expected 'soft' or 'hard', got ${describeValue(mode)}`)
    // The provider checks `tags` (an invalid argument gets its coded error), not the trace.
    const count = Array.isArray(tags) ? tags.length : 0
    await traceInvalidation('invalidateTags', count, mode, () =>
      engine.invalidations.invalidateTags(tags, mode),
    )
  }

  /**
   * Removes every entry under the store's prefix (SCAN and UNLINK, never KEYS: its cost grows with the
   * number of keys) and clears every instance's in-process tier; kept and replayed as `delete` when
   * the store cannot be reached.
   */
  clear(): Promise<number> {
    return traceInvalidation('clear', 0, undefined, () => this.#engine.invalidations.clear())
  }

  /**
   * Deletes the entry a cached route holds for `url` (and every `vary` variant of it), everywhere, as
   * `delete()` does: the key is built exactly as the route builds it for that request, from the URL
   * (path, query; an absolute URL also gives host and protocol) and `options.headers`. Needs the
   * Fastify plugin. Resolves the number of entries removed.
   */
  async invalidateRoute(url: string, options?: RouteRequestOptions): Promise<number> {
    const checked = checkRequestOptions(options)
    for (const routes of this.#engine.routes) {
      const keys = await routes.keysOf(url, checked)
      if (keys) return this.delete(keys)
    }
    throw new errors.FST_CACHE_NOT_A_CACHED_ROUTE(url)
  }

  /** Runs the request for `url` now (every hook, the handler) and stores its answer. Needs the plugin. */
  refreshRoute(url: string, options?: RouteRequestOptions): Promise<RouteRequestResult> {
    return this.#runRoute(url, checkRequestOptions(options), true)
  }

  /**
   * Fills the entries of these URLs without a client request: each runs as a real GET (a fresh entry
   * answers `HIT` and runs nothing), a few at a time. Needs the plugin. Resolves one result per URL.
   */
  async warm(
    urls: readonly string[],
    options?: RouteRequestOptions & { concurrency?: number },
  ): Promise<RouteRequestResult[]> {
    const { concurrency = 4, ...rest } = options ?? {}
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64)
      throw invalidOption(`concurrency: expected an integer from 1 to 64, got ${describeValue(concurrency)}`)
    const checked = checkRequestOptions(rest)
    const results: RouteRequestResult[] = new Array(urls.length)
    let next = 0
    const worker = async () => {
      while (next < urls.length) {
        const i = next++
        results[i] = await this.#runRoute(urls[i]!, checked, false)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker))
    return results
  }

  #runRoute(url: string, options: RouteRequestOptions, refresh: boolean): Promise<RouteRequestResult> {
    for (const routes of this.#engine.routes) {
      if (routes.matches(url, options)) return routes.run(url, options, refresh)
    }
    return Promise.reject(new errors.FST_CACHE_NOT_A_CACHED_ROUTE(url))
  }

  /**
   * Resolves once the bus subscription is confirmed, or after `timeoutMs` if the store is down
   * (tests and benchmarks wait for it; requests never need to).
   */
  ready(timeoutMs?: number): Promise<void> {
    return this.#engine.ready(timeoutMs)
  }

  /** Resolves when no background work (refresh, fill written after its response) is running. */
  drain(): Promise<void> {
    return this.#engine.background.drain()
  }

  /** Waits for background work, then releases the bus and what the engine created. */
  close(): Promise<void> {
    return this.#engine.close()
  }

  #policy(options: CallOptions | undefined): CachePolicy {
    return resolveCallOptions(options, this.#engine.defaults, this.#engine.tags !== undefined)
  }

  /** Tags given to a service call, checked by the provider (an invalid tag fails the call up front). */
  #checkTags(tags: readonly string[] | undefined): readonly string[] | undefined {
    if (tags !== undefined) this.#engine.tags?.validate?.(tags)
    return tags
  }

  #getOrSet<T>(
    operation: 'getOrSet' | 'wrap',
    key: string,
    loader: () => T | Promise<T>,
    policy: CachePolicy,
    tags: readonly string[] | undefined,
    forceFresh: boolean,
  ): Promise<T> {
    if (callChannel.hasSubscribers)
      return traceCall(operation, (trace) =>
        loadThrough(this.#engine, key, policy, { loader, tags, forceFresh, trace }),
      )
    return loadThrough(this.#engine, key, policy, { loader, tags, forceFresh })
  }
}

export type { CacheOptions, CallOptions }
