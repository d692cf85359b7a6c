import { errors } from '../errors.js'
import type { TagProvider } from '../extension/tag-provider.js'
import type { CacheStore } from '../stores/types.js'
import type { CacheLogger } from './log.js'
import {
  type CachePolicy,
  type CachePolicyOptions,
  DEFAULT_POLICY,
  POLICY_KEYS,
  resolvePolicy,
} from './policy.js'
import type { Serializer } from './serializer.js'
import {
  boolean,
  describeValue,
  duration,
  type Fail,
  integer,
  invalidOption,
  objectOf,
  rejectUnknownKeys,
} from './validate.js'

export interface L1Options {
  /** Most entries in the in-process tier. @default 10_000 */
  maxEntries?: number
  /** Most bytes of bodies in the in-process tier. @default 33_554_432 (32 MiB) */
  maxBytes?: number
  /** Longest an entry lives in the in-process tier, ms (never past its freshness). @default 5_000 */
  ttlMs?: number
}

export interface BreakerOptions {
  /** Consecutive store failures that open the circuit. @default 5 */
  failureThreshold?: number
  /** How long the circuit stays open before one probe call is let through, ms. @default 1_000 */
  cooldownMs?: number
  /**
   * A store call answering after this long counts as a failure (a gray failure: a KeyDB slower than
   * the origin is worse than none); `false`: only errors and deadlines count.
   * @default half the store's deadline (100 ms with KeydbStore's 200 ms); off for the memory store
   */
  slowCallMs?: number | false
}

export interface CacheOptions extends Omit<CachePolicyOptions, 'l1'> {
  /** Where entries live. @default a new MemoryStore (embedded mode) */
  store?: CacheStore
  /** The in-process tier, kept coherent through the bus; `false` = none. @default false */
  l1?: L1Options | false
  /** How values of service calls become bytes. @default JSON */
  serializer?: Serializer
  /** Skips the store after repeated failures. */
  breaker?: BreakerOptions
  /** Tag provider (`createTagProvider()` of @fastkey/cache-tags). */
  tags?: TagProvider
  /** Receives rate-limited warnings about store failures. */
  logger?: CacheLogger
  /**
   * The longest `close()` waits for background work (refreshes, writes after a response), ms; past
   * it, fills still running are abandoned: their locks released, nothing they load later is stored.
   * @default 2_000
   */
  closeTimeoutMs?: number
}

/** Per-call options of service methods (`get`, `set`, `getOrSet`, `wrap`, `@cached`). */
export interface CallOptions extends CachePolicyOptions {
  serializer?: Serializer
  /** Tags of the value (needs a tag provider). */
  tags?: readonly string[]
  /** Skip reading the cache, load and store (an admin refresh). @default false */
  forceFresh?: boolean
}

export interface L1Settings {
  maxEntries: number
  maxBytes: number
  ttlMs: number
}

export interface BreakerSettings {
  failureThreshold: number
  cooldownMs: number
  slowCallMs: number | false
}

/** Every engine option checked, with its default: nothing has been created yet. */
export interface ResolvedEngineOptions {
  store: CacheStore | undefined
  l1: L1Settings | undefined
  breaker: BreakerSettings
  tags: TagProvider | undefined
  logger: CacheLogger | undefined
  defaults: CachePolicy
  closeTimeoutMs: number
}

export const ENGINE_KEYS = [...POLICY_KEYS, 'store', 'breaker', 'tags', 'logger', 'closeTimeoutMs'] as const
const CALL_KEYS = [...POLICY_KEYS, 'tags', 'forceFresh']

export function resolveL1(value: unknown, fail: Fail): L1Settings | undefined {
  if (value === undefined || value === false) return undefined
  const l1 = objectOf(value, 'l1', fail)
  rejectUnknownKeys(l1, ['maxEntries', 'maxBytes', 'ttlMs'], fail, 'l1.')
  return {
    maxEntries: l1.maxEntries === undefined ? 10_000 : integer(l1.maxEntries, 'l1.maxEntries', fail, 1),
    maxBytes: l1.maxBytes === undefined ? 32 * 1024 * 1024 : integer(l1.maxBytes, 'l1.maxBytes', fail, 1),
    ttlMs: l1.ttlMs === undefined ? 5_000 : duration(l1.ttlMs, 'l1.ttlMs', fail),
  }
}

/** The breaker's settings; `storeDeadlineMs` (the store's own call deadline) sizes `slowCallMs`. */
export function resolveBreaker(
  value: unknown,
  fail: Fail,
  storeDeadlineMs: number | undefined,
): BreakerSettings {
  const b = value === undefined ? {} : objectOf(value, 'breaker', fail)
  rejectUnknownKeys(b, ['failureThreshold', 'cooldownMs', 'slowCallMs'], fail, 'breaker.')
  const slowDefault = storeDeadlineMs === undefined ? false : Math.max(1, Math.floor(storeDeadlineMs / 2))
  return {
    failureThreshold:
      b.failureThreshold === undefined ? 5 : integer(b.failureThreshold, 'breaker.failureThreshold', fail, 1),
    cooldownMs: b.cooldownMs === undefined ? 1_000 : duration(b.cooldownMs, 'breaker.cooldownMs', fail),
    slowCallMs:
      b.slowCallMs === undefined
        ? slowDefault
        : b.slowCallMs === false
          ? false
          : duration(b.slowCallMs, 'breaker.slowCallMs', fail),
  }
}

function checkStore(store: unknown, fail: Fail): CacheStore | undefined {
  if (store === undefined) return undefined
  const s = store as Partial<CacheStore> | null
  const methods = ['get', 'set', 'delete', 'generation', 'acquireLock', 'releaseLock', 'publish', 'subscribe']
  const missing = methods.find((m) => typeof (s as Record<string, unknown> | null)?.[m] !== 'function')
  if (missing !== undefined || typeof s?.location !== 'object')
    throw fail(
      `store: expected a CacheStore (MemoryStore, KeydbStore or your own; ${missing ?? 'location'} is missing), got ${describeValue(store)}`,
    )
  return store as CacheStore
}

function checkTags(tags: unknown, fail: Fail): TagProvider | undefined {
  if (tags === undefined) return undefined
  const t = tags as Partial<TagProvider> | null
  const methods = ['begin', 'seal', 'check', 'invalidate'] as const
  const missing = methods.find((m) => typeof t?.[m] !== 'function')
  if (missing !== undefined)
    throw fail(
      `tags: expected a tag provider (createTagProvider() of @fastkey/cache-tags; ${missing} is missing), got ${describeValue(tags)}`,
    )
  return tags as TagProvider
}

function checkLogger(logger: unknown, fail: Fail): CacheLogger | undefined {
  if (logger === undefined) return undefined
  const l = logger as Partial<CacheLogger> | null
  if (typeof l?.warn !== 'function' || typeof l.error !== 'function')
    throw fail(`logger: expected { warn(), error() } (a pino/Fastify logger), got ${describeValue(logger)}`)
  return logger as CacheLogger
}

/** Checks every option of `new Cache()`; throws FST_CACHE_INVALID_OPTION before anything exists. */
export function resolveEngineOptions(input: unknown, fail: Fail = invalidOption): ResolvedEngineOptions {
  const options = objectOf(input ?? {}, 'options', fail)
  rejectUnknownKeys(options, ENGINE_KEYS, fail)
  const { store, l1, breaker, tags, logger, closeTimeoutMs, ...policy } = options
  const checkedStore = checkStore(store, fail)
  return {
    store: checkedStore,
    l1: resolveL1(l1, fail),
    breaker: resolveBreaker(breaker, fail, checkedStore?.deadlineMs),
    tags: checkTags(tags, fail),
    logger: checkLogger(logger, fail),
    defaults: resolvePolicy(policy, DEFAULT_POLICY, fail),
    closeTimeoutMs: closeTimeoutMs === undefined ? 2_000 : duration(closeTimeoutMs, 'closeTimeoutMs', fail),
  }
}

/** A service call's options over the engine defaults; unknown keys and bad values throw. */
export function resolveCallOptions(
  options: CallOptions | undefined,
  defaults: CachePolicy,
  hasTagProvider: boolean,
): CachePolicy {
  if (options === undefined) return defaults
  const o = objectOf(options, 'options', invalidOption)
  rejectUnknownKeys(o, CALL_KEYS, invalidOption)
  if (o.forceFresh !== undefined) boolean(o.forceFresh, 'forceFresh', invalidOption)
  if (o.tags !== undefined && !hasTagProvider) throw new errors.FST_CACHE_NO_TAG_PROVIDER()
  const { tags: _tags, forceFresh: _forceFresh, ...policy } = o
  return resolvePolicy(policy, defaults, invalidOption)
}
