import createError from '@fastify/error'

/** Error codes of @fastkey/fastify-cache-metrics. The codes are public API; messages may change. */
export const errors = {
  /** A plugin option is invalid: `%s` names the option and the value. */
  FST_CACHE_METRICS_INVALID_OPTION: createError(
    'FST_CACHE_METRICS_INVALID_OPTION',
    'Invalid cache metrics option %s',
    500,
    TypeError,
  ),
  /** The plugin was registered twice on one app (the counts would be doubled). */
  FST_CACHE_METRICS_ALREADY_REGISTERED: createError(
    'FST_CACHE_METRICS_ALREADY_REGISTERED',
    '@fastkey/fastify-cache-metrics is already registered on this instance',
    500,
  ),
  /**
   * The registry already holds a metric with one of the plugin's names (another app on the same
   * registry, or a metric of yours): give each app its own registry or a different `prefix`.
   */
  FST_CACHE_METRICS_NAME_TAKEN: createError(
    'FST_CACHE_METRICS_NAME_TAKEN',
    'The registry already has a metric named %s',
    500,
  ),
} as const

export type CacheMetricsErrorCode = keyof typeof errors
