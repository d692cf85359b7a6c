/**
 * `@fastkey/fastify-cache/opentelemetry`: turns the cache's trace events into OpenTelemetry spans.
 * Needs `@opentelemetry/api` (an optional peer dependency: only this entry loads it).
 */
export {
  ATTR_COUNT,
  ATTR_METHOD,
  ATTR_MODE,
  ATTR_OPERATION,
  ATTR_OUTCOME,
  ATTR_ROUTE,
  ATTR_STATUS,
  ATTR_TIER,
} from './attributes.js'
export { type InstrumentFastkeyCacheOptions, instrumentFastkeyCache } from './instrument.js'
