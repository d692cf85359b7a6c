import type { Serializer } from './serializer.js'
import { jsonSerializer } from './serializer.js'
import { boolean, describeValue, duration, type Fail, integer, invalidOption, objectOf } from './validate.js'

export interface LockOptions {
  /** How long the fill lock lives if its holder dies, ms (at most 2^31-1). @default 10_000 */
  ttlMs?: number
  /** Longest a request waits for another instance's fill before loading itself, ms. @default 5_000 */
  waitMs?: number
}

/** Options that can be set as engine defaults, per route and per call. Every duration is in ms. */
export interface CachePolicyOptions {
  /** Time an entry is fresh, ms (1 to 2^31-1, about 24.8 days). @default 60_000 */
  ttlMs?: number
  /** After `ttlMs`, time a stale entry is served while one background refresh runs, ms. @default 0 */
  staleWhileRevalidateMs?: number
  /** After `ttlMs`, time a stale entry is served when the origin fails, ms. @default 0 */
  staleIfErrorMs?: number
  /** Random extra fresh time, as a fraction of `ttlMs` (0.1 = up to +10%), to spread expiries. @default 0 */
  jitter?: number
  /** Cross-instance fill lock; `false` keeps only the in-process single-flight. */
  lock?: LockOptions | false
  /** Use the in-process tier (only when the engine has one). @default true */
  l1?: boolean
  /** Cache "not found" (404, or a loader result of null/undefined) for this long, ms; `false` = never. @default false */
  negativeTtlMs?: number | false
  /** Values larger than this are served but not cached (and counted), bytes. @default 1_048_576 (1 MiB) */
  maxValueBytes?: number
  /**
   * Soft origin deadline, ms: when the loader takes longer and a stale copy exists, the stale copy is
   * served and the loader finishes in the background. `false` = wait for the loader. @default false
   */
  timeoutMs?: number | false
  /**
   * Probabilistic early refresh (XFetch): a fresh hit also starts one background refresh with a
   * probability that rises as expiry nears, when `loadMs × beta × −ln(random)` reaches the fresh
   * time left (`loadMs`: how long the entry's load took). Hot entries are then refreshed before they
   * expire instead of every caller missing at once. 0 = off; 1 is the usual value. @default 0
   */
  beta?: number
}

export interface ResolvedLock {
  ttlMs: number
  waitMs: number
}

/** A policy with every default applied and every value checked. */
export interface CachePolicy {
  ttlMs: number
  staleWhileRevalidateMs: number
  staleIfErrorMs: number
  jitter: number
  lock: ResolvedLock | false
  l1: boolean
  negativeTtlMs: number | false
  maxValueBytes: number
  timeoutMs: number | false
  beta: number
  serializer: Serializer
}

export const DEFAULT_POLICY: CachePolicy = Object.freeze({
  ttlMs: 60_000,
  staleWhileRevalidateMs: 0,
  staleIfErrorMs: 0,
  jitter: 0,
  lock: Object.freeze({ ttlMs: 10_000, waitMs: 5_000 }),
  l1: true,
  negativeTtlMs: false,
  maxValueBytes: 1_048_576,
  timeoutMs: false,
  beta: 0,
  serializer: jsonSerializer,
})

export const POLICY_KEYS = [
  'ttlMs',
  'staleWhileRevalidateMs',
  'staleIfErrorMs',
  'jitter',
  'lock',
  'l1',
  'negativeTtlMs',
  'maxValueBytes',
  'timeoutMs',
  'beta',
  'serializer',
] as const

export type PolicyInput = CachePolicyOptions & { serializer?: Serializer }

/**
 * Merges `options` over `base`, checking each value (unknown keys are the caller's to reject: each
 * place that takes a policy accepts other keys too). `fail` builds the coded error of that place.
 */
export function resolvePolicy(
  options: PolicyInput | undefined,
  base: CachePolicy = DEFAULT_POLICY,
  fail: Fail = invalidOption,
): CachePolicy {
  if (options === undefined) return base
  const o = objectOf(options, 'options', fail) as PolicyInput
  const p: CachePolicy = { ...base }
  if (o.ttlMs !== undefined) p.ttlMs = duration(o.ttlMs, 'ttlMs', fail)
  if (o.staleWhileRevalidateMs !== undefined)
    p.staleWhileRevalidateMs = duration(o.staleWhileRevalidateMs, 'staleWhileRevalidateMs', fail, {
      allowZero: true,
    })
  if (o.staleIfErrorMs !== undefined)
    p.staleIfErrorMs = duration(o.staleIfErrorMs, 'staleIfErrorMs', fail, { allowZero: true })
  if (o.jitter !== undefined) {
    if (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1))
      throw fail(`jitter: expected a fraction from 0 to 1, got ${describeValue(o.jitter)}`)
    p.jitter = o.jitter
  }
  if (o.lock !== undefined) p.lock = resolveLock(o.lock, base.lock, fail)
  if (o.l1 !== undefined) p.l1 = boolean(o.l1, 'l1', fail)
  if (o.negativeTtlMs !== undefined)
    p.negativeTtlMs = o.negativeTtlMs === false ? false : duration(o.negativeTtlMs, 'negativeTtlMs', fail)
  if (o.maxValueBytes !== undefined) p.maxValueBytes = integer(o.maxValueBytes, 'maxValueBytes', fail, 1)
  if (o.timeoutMs !== undefined)
    p.timeoutMs = o.timeoutMs === false ? false : duration(o.timeoutMs, 'timeoutMs', fail)
  if (o.beta !== undefined) {
    if (typeof o.beta !== 'number' || !(o.beta >= 0 && o.beta <= 10))
      throw fail(`beta: expected a number from 0 (off) to 10, got ${describeValue(o.beta)}`)
    p.beta = o.beta
  }
  if (o.serializer !== undefined) p.serializer = checkSerializer(o.serializer, fail)
  return p
}

function checkSerializer(s: unknown, fail: Fail): Serializer {
  const candidate = s as Serializer | null
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.serialize !== 'function' ||
    typeof candidate.deserialize !== 'function'
  )
    throw fail(
      `serializer: expected { serialize(value): Buffer, deserialize(bytes): unknown }, got ${describeValue(s)}`,
    )
  return candidate
}

function resolveLock(lock: unknown, base: ResolvedLock | false, fail: Fail): ResolvedLock | false {
  if (lock === false) return false
  if (typeof lock !== 'object' || lock === null || Array.isArray(lock))
    throw fail(`lock: expected { ttlMs, waitMs } or false, got ${describeValue(lock)}`)
  const { ttlMs, waitMs, ...rest } = lock as LockOptions
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw fail(`lock.${unknown}: unknown option (known: ttlMs, waitMs)`)
  const defaults = base || (DEFAULT_POLICY.lock as ResolvedLock)
  return {
    ttlMs: ttlMs === undefined ? defaults.ttlMs : duration(ttlMs, 'lock.ttlMs', fail),
    waitMs:
      waitMs === undefined ? defaults.waitMs : duration(waitMs, 'lock.waitMs', fail, { allowZero: true }),
  }
}
