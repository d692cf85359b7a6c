import { errors } from './errors.js'
import type { Serializer } from './serializer.js'
import { jsonSerializer } from './serializer.js'

export interface LockOptions {
  /** How long the fill lock lives if its holder dies, ms. @default 10_000 */
  ttlMs?: number
  /** Longest a request waits for another instance's fill before loading itself, ms. @default 5_000 */
  waitMs?: number
}

export interface L1Options {
  /** Most entries in the in-process tier. @default 10_000 */
  maxEntries?: number
  /** Most bytes of bodies in the in-process tier. @default 33_554_432 (32 MiB) */
  maxBytes?: number
  /** Longest an entry lives in the in-process tier, ms (never past its freshness). @default 5_000 */
  ttl?: number
}

/** Options that can be set as engine defaults, per route and per call. */
export interface CachePolicyOptions {
  /** Time an entry is fresh, ms. @default 60_000 */
  ttl?: number
  /** After `ttl`, time a stale entry is served while one background refresh runs, ms. @default 0 */
  staleWhileRevalidate?: number
  /** After `ttl`, time a stale entry is served when the origin fails, ms. @default 0 */
  staleIfError?: number
  /** Random extra ttl, as a fraction of `ttl` (0.1 = up to +10%), to spread expiries. @default 0 */
  jitter?: number
  /** Cross-instance fill lock; `false` keeps only the in-process single-flight. */
  lock?: LockOptions | false
  /** Use the in-process tier (only when the engine has one). @default true */
  l1?: boolean
  /** Cache "not found" (404, or a loader result of null/undefined) for this long, ms; `false` = never. @default false */
  negativeTtl?: number | false
  /** Values larger than this are served but not cached (and counted), bytes. @default 1_048_576 (1 MiB) */
  maxValueBytes?: number
  /**
   * Soft origin deadline, ms: when the loader takes longer and a stale copy exists, the stale copy is
   * served and the loader finishes in the background. `false` = wait for the loader. @default false
   */
  timeoutMs?: number | false
}

export interface ResolvedLock {
  ttlMs: number
  waitMs: number
}

/** A policy with every default applied and every value checked. */
export interface CachePolicy {
  ttl: number
  staleWhileRevalidate: number
  staleIfError: number
  jitter: number
  lock: ResolvedLock | false
  l1: boolean
  negativeTtl: number | false
  maxValueBytes: number
  timeoutMs: number | false
  serializer: Serializer
}

export const DEFAULT_POLICY: CachePolicy = Object.freeze({
  ttl: 60_000,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  jitter: 0,
  lock: Object.freeze({ ttlMs: 10_000, waitMs: 5_000 }),
  l1: true,
  negativeTtl: false,
  maxValueBytes: 1_048_576,
  timeoutMs: false,
  serializer: jsonSerializer,
})

type Fail = (what: string) => Error
const MAX_MS = 2 ** 31 - 1

function ms(value: unknown, name: string, fail: Fail, allowZero: boolean): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0) ||
    value > MAX_MS
  )
    throw fail(
      `${name}: expected ${allowZero ? 'a non-negative' : 'a positive'} number of ms, got ${String(value)}`,
    )
  return value
}

/**
 * Merges `options` over `base`, validating each value. `fail` builds the coded error (engine options
 * and route config use different codes).
 */
export function resolvePolicy(
  options: (CachePolicyOptions & { serializer?: Serializer }) | undefined,
  base: CachePolicy = DEFAULT_POLICY,
  fail: Fail = (what) => new errors.FST_CACHE_INVALID_OPTION(what),
): CachePolicy {
  if (options === undefined) return base
  if (typeof options !== 'object' || options === null)
    throw fail(`expected an object, got ${String(options)}`)
  const p: CachePolicy = { ...base }
  if (options.ttl !== undefined) p.ttl = ms(options.ttl, 'ttl', fail, false)
  if (options.staleWhileRevalidate !== undefined)
    p.staleWhileRevalidate = ms(options.staleWhileRevalidate, 'staleWhileRevalidate', fail, true)
  if (options.staleIfError !== undefined)
    p.staleIfError = ms(options.staleIfError, 'staleIfError', fail, true)
  if (options.jitter !== undefined) {
    if (typeof options.jitter !== 'number' || !(options.jitter >= 0 && options.jitter <= 1))
      throw fail(`jitter: expected a fraction between 0 and 1, got ${String(options.jitter)}`)
    p.jitter = options.jitter
  }
  if (options.lock !== undefined) p.lock = resolveLock(options.lock, base.lock, fail)
  if (options.l1 !== undefined) {
    if (typeof options.l1 !== 'boolean') throw fail(`l1: expected a boolean, got ${String(options.l1)}`)
    p.l1 = options.l1
  }
  if (options.negativeTtl !== undefined)
    p.negativeTtl =
      options.negativeTtl === false ? false : ms(options.negativeTtl, 'negativeTtl', fail, false)
  if (options.maxValueBytes !== undefined) {
    if (!Number.isSafeInteger(options.maxValueBytes) || options.maxValueBytes <= 0)
      throw fail(`maxValueBytes: expected a positive integer, got ${String(options.maxValueBytes)}`)
    p.maxValueBytes = options.maxValueBytes
  }
  if (options.timeoutMs !== undefined)
    p.timeoutMs = options.timeoutMs === false ? false : ms(options.timeoutMs, 'timeoutMs', fail, false)
  if (options.serializer !== undefined) {
    const s = options.serializer
    if (!s || typeof s.serialize !== 'function' || typeof s.deserialize !== 'function')
      throw fail('serializer: expected { serialize(value): Buffer, deserialize(bytes): unknown }')
    p.serializer = s
  }
  return p
}

function resolveLock(lock: unknown, base: ResolvedLock | false, fail: Fail): ResolvedLock | false {
  if (lock === false) return false
  if (typeof lock !== 'object' || lock === null)
    throw fail(`lock: expected an object or false, got ${String(lock)}`)
  const { ttlMs, waitMs } = lock as LockOptions
  const defaults = base || (DEFAULT_POLICY.lock as ResolvedLock)
  return {
    ttlMs: ttlMs === undefined ? defaults.ttlMs : ms(ttlMs, 'lock.ttlMs', fail, false),
    waitMs: waitMs === undefined ? defaults.waitMs : ms(waitMs, 'lock.waitMs', fail, true),
  }
}

/** Checks that an options object has only known keys, so a typo fails loudly instead of doing nothing. */
export function rejectUnknownKeys(options: object, known: readonly string[], fail: Fail): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw fail(`${key}: unknown option (known: ${known.join(', ')})`)
  }
}

export const POLICY_KEYS = [
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'jitter',
  'lock',
  'l1',
  'negativeTtl',
  'maxValueBytes',
  'timeoutMs',
  'serializer',
] as const
