import createError from '@fastify/error'

/** Error codes of @fastkey/fastify-cache. The codes are public API; messages may change. */
export const errors = {
  /** An engine or plugin option is invalid: `%s` names the option and the value. */
  FST_CACHE_INVALID_OPTION: createError(
    'FST_CACHE_INVALID_OPTION',
    'Invalid cache option %s',
    500,
    TypeError,
  ),
  /** A route's `config.cache` is invalid: `%s` names method, URL and the option. */
  FST_CACHE_ROUTE_CONFIG: createError(
    'FST_CACHE_ROUTE_CONFIG',
    'Invalid config.cache on route %s',
    500,
    TypeError,
  ),
  /** The plugin was registered twice in one encapsulation context. */
  FST_CACHE_ALREADY_REGISTERED: createError(
    'FST_CACHE_ALREADY_REGISTERED',
    '@fastkey/fastify-cache is already registered on this instance',
    500,
  ),
  /** Another plugin (e.g. @fastify/caching) already decorates `fastify.cache` on this instance. */
  FST_CACHE_DECORATOR_TAKEN: createError(
    'FST_CACHE_DECORATOR_TAKEN',
    'fastify.cache is already decorated by %s: @fastkey/fastify-cache cannot share it. Register only one of them on this instance, or each in its own encapsulated context',
    500,
  ),
  /** `invalidateTags` was called on an engine without a tag provider. */
  FST_CACHE_NO_TAG_PROVIDER: createError(
    'FST_CACHE_NO_TAG_PROVIDER',
    'No tag provider: register @fastkey/cache-tags (or pass `tags`) to invalidate by tag',
    500,
  ),
  /** `invalidateRoute`, `refreshRoute` or `warm` got a URL no cached route of a registered plugin matches. */
  FST_CACHE_NOT_A_CACHED_ROUTE: createError(
    'FST_CACHE_NOT_A_CACHED_ROUTE',
    'No cached route matches %s (routes with config.cache, of an app using this engine)',
    500,
    TypeError,
  ),
  /**
   * `delete`, `invalidateTags`, `clear` or `invalidateRoute` could not reach the store: the
   * invalidation is kept and replayed before this instance uses the store again (`pending` event).
   * `%s` says what is pending; `cause` is the store's error.
   */
  FST_CACHE_INVALIDATION_PENDING: createError(
    'FST_CACHE_INVALIDATION_PENDING',
    'The cache store could not be reached: %s kept, replayed before this instance uses the store again',
    503,
  ),
  /** A cache key is empty or not a string. */
  FST_CACHE_INVALID_KEY: createError('FST_CACHE_INVALID_KEY', 'Invalid cache key: %s', 500, TypeError),
} as const

export type CacheErrorCode = keyof typeof errors

/** Raised inside the engine (never to callers: the engine falls back to the origin). */
export const storeErrors = {
  FST_CACHE_STORE_TIMEOUT: createError(
    'FST_CACHE_STORE_TIMEOUT',
    'Cache store %s exceeded its %d ms deadline',
    503,
  ),
  /** An invalidation reached the master, but not every replica confirmed it within `replicaAckMs`. */
  FST_CACHE_STORE_REPLICATION: createError(
    'FST_CACHE_STORE_REPLICATION',
    'Cache store: %d of %d replicas confirmed the invalidation within %d ms',
    503,
  ),
  FST_CACHE_STORE_SLOW: createError(
    'FST_CACHE_STORE_SLOW',
    'Cache store %s answered in %d ms (slow from %d ms): counted against the circuit breaker',
    503,
  ),
} as const

/** Whether `error` is a store call that passed its deadline (`commandTimeoutMs`). */
export function isStoreTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'FST_CACHE_STORE_TIMEOUT'
}
