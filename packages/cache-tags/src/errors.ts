import createError from '@fastify/error'

/** Error codes of @fastkey/cache-tags. The codes are public API; messages may change. */
export const errors = {
  /** A tag is not a string of 1-128 characters of `[A-Za-z0-9:_.\-/]` (or the list is not an array). */
  FST_CACHE_TAGS_INVALID_TAG: createError(
    'FST_CACHE_TAGS_INVALID_TAG',
    'Invalid cache tag %s: expected 1-%d characters of [A-Za-z0-9:_.-/]',
    500,
    TypeError,
  ),
  /** More tags than allowed on one entry (or in one invalidation). */
  FST_CACHE_TAGS_TOO_MANY: createError(
    'FST_CACHE_TAGS_TOO_MANY',
    'Too many cache tags: %d given, at most %d allowed %s',
    500,
    TypeError,
  ),
  /** A provider or plugin option is invalid: `%s` names the option and the value. */
  FST_CACHE_TAGS_INVALID_OPTION: createError(
    'FST_CACHE_TAGS_INVALID_OPTION',
    'Invalid cache-tags option %s',
    500,
    TypeError,
  ),
  /** The provider was used before an engine attached it (pass it as `tags` to the engine or plugin). */
  FST_CACHE_TAGS_NOT_ATTACHED: createError(
    'FST_CACHE_TAGS_NOT_ATTACHED',
    'The tag provider is not attached to a cache engine: pass it as `tags` to fastifyCache or new Cache()',
    500,
  ),
  /** One provider was given to two engines: each engine (instance) needs its own provider. */
  FST_CACHE_TAGS_ALREADY_ATTACHED: createError(
    'FST_CACHE_TAGS_ALREADY_ATTACHED',
    'This tag provider is already attached to another cache engine: create one provider per engine',
    500,
  ),
  /** The engine's store is neither a KeydbStore nor a MemoryStore: `%s` names its kind. */
  FST_CACHE_TAGS_UNSUPPORTED_STORE: createError(
    'FST_CACHE_TAGS_UNSUPPORTED_STORE',
    'Tag versions need a KeydbStore or a MemoryStore, got a store of kind %s',
    500,
  ),
  /** A tag version command did not answer within its deadline: `%s` names it. */
  FST_CACHE_TAGS_TIMEOUT: createError(
    'FST_CACHE_TAGS_TIMEOUT',
    'Tag version command %s exceeded its %d ms deadline',
    503,
  ),
  /**
   * Tag versions were written but the bus message that evicts other instances' memoised versions could
   * not be published: they may trust old versions for up to `versionTtlMs`. Retry the invalidation.
   */
  FST_CACHE_TAGS_PUBLISH_FAILED: createError(
    'FST_CACHE_TAGS_PUBLISH_FAILED',
    'Tags were invalidated in the store, but other instances could not be told: retry',
    503,
  ),
  /** fastifyCacheTags was registered but fastify.cache has no @fastkey/cache-tags provider. */
  FST_CACHE_TAGS_NO_PROVIDER: createError(
    'FST_CACHE_TAGS_NO_PROVIDER',
    'fastify.cache has no @fastkey/cache-tags provider: create one with createTagProvider() and pass it as `tags` to fastifyCache',
    500,
  ),
} as const

export type CacheTagsErrorCode = keyof typeof errors
