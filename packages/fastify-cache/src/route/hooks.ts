import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { StoreBudget } from '../engine/budget.js'
import type { BypassReason } from '../engine/events.js'
import { type Decision, readThrough } from '../engine/read-through.js'
import { withinSoftDeadline } from '../engine/soft-deadline.js'
import type { FillTicket } from '../engine/ticket.js'
import { errors } from '../errors.js'
import { lookupChannel } from '../tracing/channels.js'
import type { CachedRoute } from './cached-route.js'
import { noteLookupTier, openLookup } from './lookup-trace.js'
import { REFRESH_HEADER, replayInjected } from './refresh.js'
import { sendEntry } from './reply.js'
import { checkReplyPolicy, type ReplyCachePolicy } from './reply-policy.js'
import { finishResponse, type RequestState } from './response.js'
import { routeKey } from './route-key.js'
import { collect, isStream } from './stream-body.js'

/** Per-request state, under a symbol decorated with `null` (Fastify 5 refuses object defaults). */
export const kCacheState = Symbol('fastkey.cache.state')

type StatefulRequest = FastifyRequest & { [kCacheState]: RequestState | null }
type PayloadDone = (error: Error | null, payload?: unknown) => void

/**
 * The lookup hook (`onRequest` or `preHandler`, per the route's `hook`). Callback-style on purpose:
 * bypasses and L1 hits finish synchronously (no promise per request), only a KeyDB lookup goes
 * asynchronous. A bug here must not fail the request: it is reported and the handler runs.
 */
export function cacheLookup(
  route: CachedRoute,
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  let decision: Decision | Promise<Decision> | undefined
  try {
    // One check when nobody listens: the hit path builds no trace context.
    if (lookupChannel.hasSubscribers) openLookup(route, request, reply)
    // A request a background refresh injected runs the handler for that refresh's ticket.
    const refreshing = claimRefresh(route, request)
    if (refreshing) {
      startLoad(route, request, reply, refreshing)
      done()
      return
    }
    decision = decide(route, request, reply)
  } catch (error) {
    route.engine.failures.report('read', error)
  }
  if (decision === undefined) {
    done()
    return
  }
  const failed = (error: unknown) => {
    route.engine.failures.report('read', error)
    done()
  }
  // Once this hook replied (a hit), `done` must not be called: Fastify would run the handler too
  // while a streamed reply (compressed, say) is still being written.
  const proceed = (replied: boolean) => {
    if (!replied) done()
  }
  if (!(decision instanceof Promise)) {
    const acting = act(route, request, reply, decision)
    if (typeof acting === 'boolean') proceed(acting)
    else acting.then(proceed, failed)
    return
  }
  decision.then((d) => {
    const acting = act(route, request, reply, d)
    if (typeof acting === 'boolean') proceed(acting)
    else acting.then(proceed, failed)
  }, failed)
}

function claimRefresh(route: CachedRoute, request: FastifyRequest): FillTicket | undefined {
  const token = request.headers[REFRESH_HEADER]
  return typeof token === 'string' ? route.refresher.claim(token) : undefined
}

/** The one question per request: bypass (undefined), or the engine's read-through decision. */
function decide(
  route: CachedRoute,
  request: FastifyRequest,
  reply: FastifyReply,
  budget?: StoreBudget,
): Decision | Promise<Decision> | undefined {
  const { compiled, engine } = route
  const method = request.method
  if (method !== 'GET' && method !== 'HEAD') return bypass(route, reply, 'method')
  if (compiled.bypass?.(request)) return bypass(route, reply, 'bypass-option')
  if (!compiled.key) {
    if (request.headers.authorization !== undefined) return bypass(route, reply, 'authorization')
    if (request.headers.cookie !== undefined) return bypass(route, reply, 'cookie')
  }
  const varyNames = route.vary.names
  const key =
    varyNames.length === 0 && !compiled.key ? route.keys.of(request) : routeKey(compiled, request, varyNames)
  if (key === undefined) return bypass(route, reply, 'vary-limit')
  // A variant beyond the route's `maxVariants` for this URL is served past the cache.
  if (route.vary.learned.length > 0) {
    const base = routeKey(compiled, request)
    if (base !== undefined && route.vary.overLimit(base, key)) return bypass(route, reply, 'vary-limit')
  }
  const refresh = route.control.isRefresh(request) || compiled.refresh?.(request) === true
  const options = method === 'HEAD' ? route.head : refresh ? route.refresh : route.get
  return readThrough(engine, key, compiled.policy, options, request, budget)
}

/**
 * The key held a vary marker: the responses of this route vary on request headers the key did not
 * include. Learn them and ask again with the variant's key (once: a second marker runs the handler).
 */
function followVary(
  route: CachedRoute,
  request: FastifyRequest,
  reply: FastifyReply,
  decision: Extract<Decision, { kind: 'vary' }>,
): boolean | Promise<boolean> {
  const { compiled, engine } = route
  const passive = (key: string) => {
    startLoad(route, request, reply, engine.fills.passive(key, compiled.policy, compiled.route, undefined))
    return false
  }
  route.vary.noteMarker(decision.key, decision.marker, compiled.maxVariants)
  if (!route.vary.learn(decision.marker.names)) return passive(decision.key)
  const next = decide(route, request, reply, decision.budget)
  if (next === undefined) return false
  return Promise.resolve(next).then((d) =>
    d.kind === 'vary' ? passive(d.key) : act(route, request, reply, d),
  )
}

function bypass(route: CachedRoute, reply: FastifyReply, reason: BypassReason): undefined {
  reply.header('x-cache', 'BYPASS')
  route.engine.signals.bypass(reason, route.compiled.route)
  return undefined
}

/**
 * Serves the decision (`true`: replied), or prepares the request to run the handler (`false`); a
 * promise when it must wait.
 */
function act(
  route: CachedRoute,
  request: FastifyRequest,
  reply: FastifyReply,
  decision: Decision,
): boolean | Promise<boolean> {
  const { compiled, engine } = route
  switch (decision.kind) {
    case 'hit': {
      if (lookupChannel.hasSubscribers) noteLookupTier(request, decision.lookup.tier)
      if (compiled.tagsHeader && decision.tagNames?.length)
        reply.header(compiled.tagsHeader.name, decision.tagNames.join(compiled.tagsHeader.separator))
      sendEntry(request, reply, compiled, decision.lookup.entry, decision.lookup.ageMs, 'HIT')
      return true
    }
    case 'stale':
      if (lookupChannel.hasSubscribers) noteLookupTier(request, decision.lookup.tier)
      sendEntry(request, reply, compiled, decision.lookup.entry, decision.lookup.ageMs, 'STALE')
      return true
    case 'load': {
      const { ticket } = decision
      // A slow origin must not hold a request that has a copy to serve: the handler runs elsewhere.
      if (ticket.leading && ticket.staleCopy && compiled.policy.timeoutMs !== false)
        return answerWithinDeadline(route, request, reply, ticket)
      startLoad(route, request, reply, ticket)
      return false
    }
    case 'vary':
      return followVary(route, request, reply, decision)
    default:
      // Routes never share a loader's value or error (their flights carry entries): run the handler.
      engine.failures.report('read', new Error(`unexpected route decision ${decision.kind}`))
      return false
  }
}

/** The request runs the handler for `ticket`; its response ends the ticket in onSend. */
function startLoad(
  route: CachedRoute,
  request: FastifyRequest,
  reply: FastifyReply,
  ticket: FillTicket,
): void {
  // Headers already set (by hooks before this one) are per request: they are not stored.
  const before = ticket.leading ? reply.getHeaders() : {}
  ;(request as StatefulRequest)[kCacheState] = {
    route,
    key: ticket.key,
    ticket,
    value: undefined,
    before,
    replyPolicy: undefined,
    varyNames: route.vary.names,
  }
  // Whatever happened (finished, aborted, an error before onSend), the lock and the waiters must be
  // released; abandoning a ticket the response completed does nothing. `close` rather than an
  // onResponse hook: it also comes when the client went away, and a hit (no ticket) listens for
  // nothing, where a route-level onResponse hook made Fastify listen on every response.
  reply.raw.once('close', () => void ticket.abandon())
}

/**
 * The route's soft origin deadline (`timeoutMs`) when a stale copy exists: the handler runs in a
 * request injected for this ticket (it stores its response as any fill does), and this request
 * answers with that response if it comes within the deadline, else with the stale copy.
 */
async function answerWithinDeadline(
  route: CachedRoute,
  request: FastifyRequest,
  reply: FastifyReply,
  ticket: FillTicket,
): Promise<boolean> {
  const outcome = await withinSoftDeadline(route.engine, ticket, route.refresher.run(request, ticket))
  if ('value' in outcome) {
    replayInjected(reply, outcome.value)
    return true
  }
  const copy = 'stale' in outcome ? outcome.stale : ticket.staleOnError()
  if (!copy) return false // the injection itself failed: this request runs the handler, uncached
  sendEntry(request, reply, route.compiled, copy.entry, copy.ageMs, 'STALE')
  return true
}

export function cachePreSerialization(
  request: FastifyRequest,
  _reply: FastifyReply,
  payload: unknown,
  done: PayloadDone,
): void {
  const state = (request as StatefulRequest)[kCacheState]
  if (state) state.value = payload
  done(null, payload)
}

/** Synchronous work only (the store write goes on in the background): callback style, no promise. */
/**
 * Synchronous work only (the store write goes on in the background): callback style, no promise. A
 * compressed stream (@fastify/compress registered before the cache, a body above its syncThreshold)
 * is read first, so the encoded bytes can be stored as that encoding's variant.
 */
export function cacheOnSend(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: PayloadDone,
): void {
  const state = (request as StatefulRequest)[kCacheState]
  if (!state) {
    done(null, payload)
    return
  }
  if (isStream(payload) && state.ticket.leading && reply.hasHeader('content-encoding')) {
    collect(payload, state.ticket.policy.maxValueBytes).then((read) => {
      if ('body' in read) {
        finishOnSend(request, reply, read.body, state, done)
        return
      }
      // Larger than maxValueBytes: sent as it streams, not stored.
      state.route.engine.signals.skip(state.key, 'too-large', state.route.compiled.route)
      reply.header('x-cache', 'MISS')
      void state.ticket.complete({ outcome: 'none' }, undefined, reply.statusCode < 500)
      done(null, read.stream)
    })
    return
  }
  finishOnSend(request, reply, payload, state, done)
}

function finishOnSend(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  state: RequestState,
  done: PayloadDone,
): void {
  let result: unknown
  try {
    result = finishResponse(request, reply, payload, state)
  } catch (error) {
    state.route.engine.failures.report('set', error, state.key)
    void state.ticket.abandon()
    result = payload
  }
  done(null, result)
}

/**
 * `reply.cachePolicy(policy)`: what the handler says about its own response (lifetimes, tags, not
 * storing it). Checked at once; ignored on responses that are not being cached (a bypass, a hit).
 */
export function replyCachePolicy(this: FastifyReply, policy: ReplyCachePolicy): FastifyReply {
  const checked = checkReplyPolicy(policy)
  const state = (this.request as StatefulRequest)[kCacheState]
  if (!state) return this
  if (checked.tags !== undefined && !state.route.engine.tags) throw new errors.FST_CACHE_NO_TAG_PROVIDER()
  state.replyPolicy = { ...state.replyPolicy, ...checked }
  return this
}
