import type { Attributes } from '@opentelemetry/api'
import type { TraceContext } from '../tracing/channels.js'

/** Attribute names the bridge sets (the `fastkey.cache.*` ones are ours; the others are semconv). */
export const ATTR_OPERATION = 'fastkey.cache.operation'
export const ATTR_OUTCOME = 'fastkey.cache.outcome'
export const ATTR_TIER = 'fastkey.cache.tier'
export const ATTR_COUNT = 'fastkey.cache.count'
export const ATTR_MODE = 'fastkey.cache.invalidation.mode'
export const ATTR_ROUTE = 'http.route'
export const ATTR_METHOD = 'http.request.method'
export const ATTR_STATUS = 'http.response.status_code'

/** The span name of an operation: `fastkey.cache.lookup`, `fastkey.cache.getOrSet`, ... */
export function spanName(context: TraceContext): string {
  return `fastkey.cache.${context.operation}`
}

/** What is known when the operation starts. Never a key, a URL or a value: the contexts hold none. */
export function startAttributes(context: TraceContext): Attributes {
  const attributes: Attributes = { [ATTR_OPERATION]: context.operation }
  if ('route' in context && context.route !== undefined) attributes[ATTR_ROUTE] = context.route
  if ('method' in context) attributes[ATTR_METHOD] = context.method
  if ('mode' in context && context.mode !== undefined) attributes[ATTR_MODE] = context.mode
  return attributes
}

/** What is known when it ends. */
export function endAttributes(context: TraceContext): Attributes {
  const attributes: Attributes = {}
  if (context.outcome !== undefined) attributes[ATTR_OUTCOME] = context.outcome
  if ('tier' in context) attributes[ATTR_TIER] = context.tier
  if ('status' in context && context.status !== undefined) attributes[ATTR_STATUS] = context.status
  if ('count' in context) attributes[ATTR_COUNT] = context.count
  return attributes
}

/** Outcomes that are failures (error status); a lookup fails when the client got a 5xx. */
export function failed(context: TraceContext): boolean {
  if (context.operation === 'lookup') return context.status !== undefined && context.status >= 500
  return context.outcome === 'error' || context.outcome === 'pending' || 'error' in context
}
