import type { FastifyReply, FastifyRequest } from 'fastify'
import type { HitTier } from '../engine/events.js'
import { type LookupTraceContext, lookupChannel } from '../tracing/channels.js'
import { begin, finish } from '../tracing/publish.js'
import type { CachedRoute } from './cached-route.js'

/**
 * The `fastkey:cache:lookup` trace of one cached request, from the lookup hook to the response's
 * `close` (the status is known only then). Kept beside the request, not on it: nothing is added to
 * the request object when nobody listens, and a request that never ends is collected with its trace.
 */
const traces = new WeakMap<FastifyRequest, LookupTraceContext>()

const OUTCOMES: Record<string, LookupTraceContext['outcome']> = {
  HIT: 'hit',
  MISS: 'miss',
  STALE: 'stale',
  BYPASS: 'bypass',
}

/** Called only after `lookupChannel.hasSubscribers`; the trace ends when the response closes. */
export function openLookup(route: CachedRoute, request: FastifyRequest, reply: FastifyReply): void {
  // A second lookup on the same request (none today) keeps the first trace.
  if (traces.has(request)) return
  reply.raw.once('close', () => closeLookup(request, reply))
  const context: LookupTraceContext = {
    operation: 'lookup',
    route: route.compiled.route,
    method: request.method,
    outcome: undefined,
    tier: 'none',
    status: undefined,
  }
  traces.set(request, begin(lookupChannel, context))
}

/** What served the request (a hit or a stale copy), when it was served from the cache. */
export function noteLookupTier(request: FastifyRequest, tier: HitTier): void {
  const context = traces.get(request)
  if (context) context.tier = tier
}

/**
 * The response is over: the outcome is what `x-cache` said (none: the cache stepped aside after a
 * failure of its own, a bypass), the status what the client got.
 */
function closeLookup(request: FastifyRequest, reply: FastifyReply): void {
  const context = traces.get(request)
  if (!context) return
  traces.delete(request)
  const header = reply.getHeader('x-cache')
  context.outcome = (typeof header === 'string' && OUTCOMES[header]) || 'bypass'
  if (context.outcome !== 'hit' && context.outcome !== 'stale') context.tier = 'none'
  context.status = reply.statusCode
  finish(lookupChannel, context)
}
