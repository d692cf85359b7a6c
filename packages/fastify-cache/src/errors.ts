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
  /** `invalidateTags` was called on an engine without a tag provider. */
  FST_CACHE_NO_TAG_PROVIDER: createError(
    'FST_CACHE_NO_TAG_PROVIDER',
    'No tag provider: register @fastkey/cache-tags (or pass `tags`) to invalidate by tag',
    500,
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
} as const
