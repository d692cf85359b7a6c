import {
  boolean,
  describeValue,
  duration,
  invalidOption,
  objectOf,
  rejectUnknownKeys,
} from '../engine/validate.js'

/**
 * What a handler may say about its own response, with `reply.cachePolicy(...)`, instead of writing a
 * `cache-control` header: its lifetimes, its tags, or that it must not be stored. It wins over the
 * response's `cache-control` and the route's options.
 */
export interface ReplyCachePolicy {
  /** Fresh time of this response's entry, ms. */
  ttlMs?: number
  /** Stale-while-revalidate window of this entry, ms. */
  staleWhileRevalidateMs?: number
  /** Stale-if-error window of this entry, ms. */
  staleIfErrorMs?: number
  /** Tags of this entry (instead of the route's `tags`); needs a tag provider. */
  tags?: readonly string[]
  /** `false`: serve this response without storing it. @default true */
  store?: boolean
}

const KEYS = ['ttlMs', 'staleWhileRevalidateMs', 'staleIfErrorMs', 'tags', 'store']

/** Checks what a handler passed to `reply.cachePolicy()`; a mistake throws FST_CACHE_INVALID_OPTION. */
export function checkReplyPolicy(input: unknown): ReplyCachePolicy {
  const fail = (what: string) => invalidOption(`reply.cachePolicy ${what}`)
  const policy = objectOf(input, 'options', fail)
  rejectUnknownKeys(policy, KEYS, fail)
  if (policy.ttlMs !== undefined) duration(policy.ttlMs, 'ttlMs', fail)
  if (policy.staleWhileRevalidateMs !== undefined)
    duration(policy.staleWhileRevalidateMs, 'staleWhileRevalidateMs', fail, { allowZero: true })
  if (policy.staleIfErrorMs !== undefined)
    duration(policy.staleIfErrorMs, 'staleIfErrorMs', fail, { allowZero: true })
  if (policy.store !== undefined) boolean(policy.store, 'store', fail)
  if (
    policy.tags !== undefined &&
    !(Array.isArray(policy.tags) && policy.tags.every((t) => typeof t === 'string'))
  )
    throw fail(`tags: expected an array of strings, got ${describeValue(policy.tags)}`)
  return policy as ReplyCachePolicy
}
