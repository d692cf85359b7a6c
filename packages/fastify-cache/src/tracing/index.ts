/**
 * `@fastkey/fastify-cache/tracing`: the names of the `diagnostics_channel` tracing channels the cache
 * publishes on, and the shape of their contexts, for APM tools and custom subscribers. The
 * OpenTelemetry bridge is `@fastkey/fastify-cache/opentelemetry`.
 */
export {
  CALL_CHANNEL,
  type CallTraceContext,
  INVALIDATE_CHANNEL,
  type InvalidateTraceContext,
  LOAD_CHANNEL,
  LOCK_WAIT_CHANNEL,
  LOOKUP_CHANNEL,
  type LoadTraceContext,
  type LockWaitTraceContext,
  type LookupTraceContext,
  type TraceContext,
  type TraceTier,
} from './channels.js'

import {
  CALL_CHANNEL,
  INVALIDATE_CHANNEL,
  LOAD_CHANNEL,
  LOCK_WAIT_CHANNEL,
  LOOKUP_CHANNEL,
} from './channels.js'

/** Every channel name, by kind. */
export const TRACE_CHANNELS = Object.freeze({
  lookup: LOOKUP_CHANNEL,
  call: CALL_CHANNEL,
  load: LOAD_CHANNEL,
  lockWait: LOCK_WAIT_CHANNEL,
  invalidate: INVALIDATE_CHANNEL,
} as const)
