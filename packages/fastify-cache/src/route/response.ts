import type { FastifyReply, FastifyRequest } from 'fastify'
import { type CacheEntry, computeEtag } from '../engine/entry.js'
import type { EntryWindows, Lookup } from '../engine/freshness.js'
import type { FillTicket } from '../engine/ticket.js'
import { directivesOf } from './cache-control.js'
import type { CachedRoute } from './cached-route.js'
import { type HeaderSnapshot, storedHeadersOf, varyNames } from './headers.js'
import { cacheHeaders } from './reply.js'
import type { ReplyCachePolicy } from './reply-policy.js'
import { routeKey } from './route-key.js'
import { VaryState } from './vary.js'

/** What a request of a cached route carries from its lookup to its response. */
export interface RequestState {
  route: CachedRoute
  key: string
  /** The right to run the handler for this key: the response completes it in onSend. */
  ticket: FillTicket
  /** What the handler returned, before serialization (for `tags`). */
  value: unknown
  /** The reply's headers when the lookup ran (set by earlier hooks: per request, not replayed). */
  before: HeaderSnapshot
  /** What the handler said with `reply.cachePolicy()`. */
  replyPolicy: ReplyCachePolicy | undefined
  /** The request headers `key` was built from (the route's vary, as known when the lookup ran). */
  varyNames: readonly string[]
}

const EMPTY = Buffer.alloc(0)

/** How a response is stored, once everything that could keep it out of the cache said yes. */
interface StoragePlan {
  body: Buffer
  windows: EntryWindows | undefined
  tags: readonly string[] | undefined
}

/**
 * Ends the request's ticket with its response: stored when cacheable, the stale copy instead of a 5xx
 * inside stale-if-error. Returns the payload to send.
 */
export function finishResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  state: RequestState,
): unknown {
  const { ticket, route } = state
  const { compiled, engine } = route
  const status = reply.statusCode
  if (status >= 500) {
    const copy = ticket.staleOnError()
    if (copy) {
      void ticket.fail()
      return serveStaleOnError(reply, route, copy)
    }
  }
  if (!ticket.leading) {
    if (!reply.hasHeader('x-cache')) reply.header('x-cache', 'MISS')
    return payload
  }
  reply.header('x-cache', 'MISS')
  const plan = storagePlan(request, reply, payload, state)
  if (plan === undefined) {
    engine.signals.skip(state.key, 'uncacheable', compiled.route)
    void (status >= 500 ? ticket.fail() : ticket.complete({ outcome: 'none' }))
    return payload
  }
  if (plan === 'invalid-tags') {
    engine.signals.skip(state.key, 'invalid-tags', compiled.route)
    void ticket.complete({ outcome: 'none' }, undefined, status < 500)
    return payload
  }
  const variant = variantPlan(request, reply, state)
  if (variant === 'learned') {
    engine.signals.skip(state.key, 'vary', compiled.route)
    void ticket.complete({ outcome: 'none' }, undefined, status < 500)
    return payload
  }
  const entry = ticket.entryOf({
    status,
    contentType: String(reply.getHeader('content-type') ?? ''),
    etag: handlerEtag(reply) ?? computeEtag(plan.body),
    body: plan.body,
    negative: status === 404,
    headers: storedHeadersOf(reply, state.before, compiled.headers, compiled.tagsHeader?.name),
    windows: plan.windows,
  })
  void ticket.complete({ entry, outcome: 'none', tagNames: plan.tags }, plan.tags, status < 500, variant)
  if (entry) sendMissHeaders(reply, route, entry, plan.tags)
  return payload
}

/**
 * What a response's `vary` means for storing it. `'learned'`: it varies on headers its key did not
 * include; they are learned (the next request is keyed on them, and the route key gets a vary marker
 * naming them, for the other instances) and this response is not stored. A function: the key is a
 * variant of the route key; it is stored only if the route key's marker records it (at most
 * `maxVariants`). `undefined`: a plain key.
 */
function variantPlan(
  request: FastifyRequest,
  reply: FastifyReply,
  state: RequestState,
): 'learned' | ((ttlMs: number) => Promise<boolean>) | undefined {
  const { route } = state
  const { compiled, engine, vary } = route
  const unknown = VaryState.missing(varyNames(reply.getHeader('vary')), state.varyNames)
  if (unknown.length > 0) vary.learn(unknown)
  if (vary.learned.length === 0) return undefined
  const base = routeKey(compiled, request)
  const variantKey = unknown.length > 0 ? routeKey(compiled, request, vary.names) : state.key
  if (base === undefined || variantKey === undefined || base === variantKey)
    return unknown.length > 0 ? 'learned' : undefined
  const record = async (ttlMs: number) => {
    const recorded = await engine.writer.recordVariant(
      base,
      variantKey,
      vary.learned.join(','),
      compiled.maxVariants,
      ttlMs,
    )
    vary.noteVariant(base, variantKey, recorded)
    if (!recorded) engine.signals.skip(variantKey, 'vary-limit', compiled.route)
    return recorded
  }
  if (unknown.length === 0) return record
  // Marks the route key now, so other instances and lock waiters learn the headers from it.
  void record(compiled.policy.ttlMs)
  return 'learned'
}

/**
 * Whether and how the response may be stored: its status, its body (bytes, not a stream), no
 * `set-cookie`, no `vary: *`, what its `cache-control` and `reply.cachePolicy()` say, and its tags
 * (invalid ones keep it out: `'invalid-tags'`). `undefined`: not storable.
 */
function storagePlan(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  state: RequestState,
): StoragePlan | 'invalid-tags' | undefined {
  const { compiled } = state.route
  const status = reply.statusCode
  const policy = state.replyPolicy
  if (policy?.store === false) return undefined
  if (!compiled.statuses.has(status) && !(status === 404 && compiled.policy.negativeTtlMs !== false))
    return undefined
  // An empty body (a redirect, a 204) arrives as no payload at all; a stream is not stored.
  const body = payload === undefined || payload === null ? EMPTY : payload
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return undefined
  if (reply.getHeader('set-cookie') !== undefined) return undefined
  if (varyNames(reply.getHeader('vary')).includes('*')) return undefined
  const directives = directivesOf(reply.getHeader('cache-control'), compiled.maxTtlMs)
  if (!directives.storable) return undefined
  let tags: readonly string[] | undefined
  try {
    tags = policy?.tags ?? (compiled.tags ? compiled.tags(request, state.value ?? payload) : undefined)
  } catch (error) {
    // The route's own function failed: the response is served as it is, not stored.
    state.route.engine.failures.report('serialize', error, state.key)
    return undefined
  }
  if (tags !== undefined && !validTags(state.route, tags)) return 'invalid-tags'
  return {
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    windows: replyWindows(policy) ?? directives.windows,
    tags,
  }
}

function replyWindows(policy: ReplyCachePolicy | undefined): EntryWindows | undefined {
  if (!policy || (policy.ttlMs ?? policy.staleWhileRevalidateMs ?? policy.staleIfErrorMs) === undefined)
    return undefined
  return { freshMs: policy.ttlMs, staleMs: policy.staleWhileRevalidateMs, graceMs: policy.staleIfErrorMs }
}

/** Tags a provider accepts; only those may reach a response header or an entry. */
function validTags(route: CachedRoute, tags: readonly string[]): boolean {
  try {
    route.engine.tags?.validate?.(tags)
    return true
  } catch {
    return false
  }
}

function handlerEtag(reply: FastifyReply): string | undefined {
  const etag = reply.getHeader('etag')
  return etag === undefined ? undefined : String(etag)
}

function sendMissHeaders(
  reply: FastifyReply,
  route: CachedRoute,
  entry: CacheEntry,
  tags: readonly string[] | undefined,
): void {
  const { compiled } = route
  cacheHeaders(reply, compiled, entry, 0, 'MISS')
  if (tags?.length && compiled.tagsHeader)
    reply.header(compiled.tagsHeader.name, tags.join(compiled.tagsHeader.separator))
}

function serveStaleOnError(reply: FastifyReply, route: CachedRoute, copy: Lookup): Buffer {
  const entry = copy.entry
  reply.code(entry.status)
  reply.removeHeader('content-length')
  reply.headers(entry.headers as Record<string, string>)
  if (entry.contentType) reply.header('content-type', entry.contentType)
  cacheHeaders(reply, route.compiled, entry, copy.ageMs, 'STALE')
  return entry.body
}
