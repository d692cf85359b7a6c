export { type CacheMetricsErrorCode, errors } from './errors.js'
export { SERVICE_ROUTE } from './listeners.js'
export { CIRCUIT_VALUES, METRIC_NAMES } from './metrics.js'
export {
  type CacheMetricsBuckets,
  DEFAULT_BUCKETS,
  DEFAULT_PATH,
  DEFAULT_PREFIX,
  type FastifyCacheMetricsOptions,
} from './options.js'
export { fastifyCacheMetrics, fastifyCacheMetrics as default } from './plugin.js'
export type { CacheMetrics } from './types.js'

import './types.js'
