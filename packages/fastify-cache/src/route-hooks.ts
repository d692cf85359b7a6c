import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Cache, Lookup } from './cache.js'
import { computeEtag } from './entry.js'
import type { LeaderFill } from './flight.js'
import { routeKey } from './route-key.js'
import type { CompiledRoute } from './route-options.js'
import { cacheHeaders, responseStorable, sendEntry } from './route-reply.js'

/** Per-request state, under a symbol decorated with `null` (Fastify 5 refuses object defaults). */
export const kCacheState = Symbol('fastkey.cache.state')

interface RequestState {
  compiled: CompiledRoute
  key: string
  /** Set when this request runs the handler on behalf of everyone waiting for the key. */
  fill: LeaderFill | undefined
  /** A stale copy that may be served if the handler fails (stale-if-error). */
  stale: Lookup | undefined
  /** What the handler returned, before serialization (for `tags`). */
  value: unknown
}

type StatefulRequest = FastifyRequest & { [kCacheState]: RequestState | null }

const REFRESH_HEADER = 'x-fastkey-refresh'
// Request headers not replayed by a background refresh: conditionals would turn it into a 304.
const NOT_REPLAYED = new Set([
  'if-none-match',
  'if-modified-since',
  'range',
  'content-length',
  'connection',
  REFRESH_HEADER,
])
const DEFAULT_FOLLOWER_WAIT_MS = 5_000

type PayloadDone = (error: Error | null, payload?: unknown) => void

export interface RouteHooks {
  onRequest: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
  preSerialization: (
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: PayloadDone,
  ) => void
  onSend: (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: PayloadDone) => void
  onResponse: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
}

/** Shared by every cached route of one plugin instance: the background refreshes it injected. */
export class RouteRuntime {
  readonly refreshes = new Map<string, LeaderFill>()
  constructor(
    readonly fastify: FastifyInstance,
    readonly cache: Cache,
  ) {}

  /** Re-runs the request in the background (stale-while-revalidate); one refresh per key across instances. */
  refresh(request: FastifyRequest, compiled: CompiledRoute, key: string): void {
    this.cache.refreshInBackground(
      key,
      compiled.policy,
      async (fill) => {
        const token = randomBytes(18).toString('base64url')
        this.refreshes.set(token, fill)
        const headers: Record<string, string | string[]> = {}
        for (const [name, value] of Object.entries(request.headers)) {
          if (value !== undefined && !NOT_REPLAYED.has(name)) headers[name] = value
        }
        headers[REFRESH_HEADER] = token
        try {
          await this.fastify.inject({ method: 'GET', url: request.url, headers })
        } finally {
          this.refreshes.delete(token)
        }
      },
      compiled.route,
    )
  }
}

export function createRouteHooks(runtime: RouteRuntime, compiled: CompiledRoute): RouteHooks {
  const { cache } = runtime
  const { policy, route } = compiled
  const events = cache.events

  const bypass = (
    reply: FastifyReply,
    reason: 'method' | 'authorization' | 'cookie' | 'bypass-option' | 'vary-limit',
  ): undefined => {
    reply.header('x-cache', 'BYPASS')
    if (events.has('bypass')) events.emit('bypass', { reason, route })
    return undefined
  }

  /**
   * Callback-style on purpose: bypasses and L1 hits finish synchronously (no promise per request),
   * only a KeyDB lookup goes asynchronous. A bug here must not fail the request: it is reported and
   * the handler runs.
   */
  function onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const pending = lookupSync(request, reply)
    if (pending === undefined) return done()
    pending.then(
      () => done(),
      (error: unknown) => {
        cache.storeFailed('read', error)
        done()
      },
    )
  }

  /** The synchronous part of the lookup; returns the asynchronous rest when KeyDB must be asked. */
  function lookupSync(request: FastifyRequest, reply: FastifyReply): Promise<unknown> | undefined {
    const method = request.method
    if (method !== 'GET' && method !== 'HEAD') return bypass(reply, 'method')
    const req = request as StatefulRequest
    const refreshToken = request.headers[REFRESH_HEADER]
    if (typeof refreshToken === 'string') {
      const fill = runtime.refreshes.get(refreshToken)
      if (fill) {
        req[kCacheState] = { compiled, key: fill.key, fill, stale: undefined, value: undefined }
        return
      }
    }
    if (compiled.bypass?.(request)) return bypass(reply, 'bypass-option')
    if (!compiled.key) {
      if (request.headers.authorization !== undefined) return bypass(reply, 'authorization')
      if (request.headers.cookie !== undefined) return bypass(reply, 'cookie')
    }
    const key = routeKey(compiled, request)
    if (key === undefined) return bypass(reply, 'vary-limit')

    const l1 = cache.lookupL1(key, policy)
    if (l1) {
      if (events.has('hit')) events.emit('hit', { key, tier: 'l1', route })
      sendEntry(request, reply, compiled, l1.entry, l1.ageMs, 'HIT')
      return
    }
    return lookupAsync(request, reply, req, key, method)
  }

  async function lookupAsync(
    request: FastifyRequest,
    reply: FastifyReply,
    req: StatefulRequest,
    key: string,
    method: string,
  ) {
    const found = await cache.lookupStore(key, policy)
    if (found?.freshness === 'fresh') {
      if (events.has('hit')) events.emit('hit', { key, tier: 'store', route })
      return sendEntry(request, reply, compiled, found.entry, found.ageMs, 'HIT')
    }
    if (found?.freshness === 'stale') {
      if (events.has('stale')) events.emit('stale', { key, reason: 'revalidate', route })
      runtime.refresh(request, compiled, key)
      return sendEntry(request, reply, compiled, found.entry, found.ageMs, 'STALE')
    }
    if (events.has('miss')) events.emit('miss', { key, route })
    const state: RequestState = {
      compiled,
      key,
      fill: undefined,
      stale: found ?? undefined,
      value: undefined,
    }
    req[kCacheState] = state
    // A HEAD response has no body to store: it runs the handler without filling.
    if (method === 'HEAD') return

    const fill = await cache.beginFill(key, policy, {
      route,
      tagged: compiled.tags !== undefined,
      storeDown: found === null,
    })
    if (fill.role === 'filled') {
      req[kCacheState] = null
      if (events.has('hit')) events.emit('hit', { key, tier: 'store', route })
      return sendEntry(request, reply, compiled, fill.entry, fill.ageMs, 'HIT')
    }
    if (fill.role === 'follower') {
      const shared = await waitBounded(
        fill.flight.promise,
        policy.lock ? policy.lock.waitMs : DEFAULT_FOLLOWER_WAIT_MS,
      )
      if (shared?.entry) {
        req[kCacheState] = null
        if (events.has('hit')) events.emit('hit', { key, tier: 'store', route })
        if (compiled.tagsHeader && shared.tagNames?.length)
          reply.header(compiled.tagsHeader.name, shared.tagNames.join(' '))
        return sendEntry(request, reply, compiled, shared.entry, 0, 'HIT')
      }
      // The origin just failed for the leader: a stale copy inside its grace window answers instead.
      if (shared?.outcome === 'error' && found && canServeOnError(found)) {
        req[kCacheState] = null
        if (events.has('stale')) events.emit('stale', { key, reason: 'error', route })
        return sendEntry(request, reply, compiled, found.entry, found.ageMs, 'STALE')
      }
      // The leader produced nothing cacheable (or is too slow): run the handler for this request.
      return
    }
    if (fill.role === 'leader') state.fill = fill
  }

  function preSerialization(
    request: FastifyRequest,
    _reply: FastifyReply,
    payload: unknown,
    done: (error: Error | null, payload?: unknown) => void,
  ) {
    const state = (request as StatefulRequest)[kCacheState]
    if (state) state.value = payload
    done(null, payload)
  }

  // Synchronous work only (the store write goes on in the background): callback style, no promise.
  function onSend(
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: (error: Error | null, payload?: unknown) => void,
  ) {
    const state = (request as StatefulRequest)[kCacheState]
    if (!state) return done(null, payload)
    let result: unknown
    try {
      result = storeResponse(request, reply, payload, state)
    } catch (error) {
      cache.storeFailed('set', error, state.key)
      result = payload
    }
    done(null, result)
  }

  function storeResponse(
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    state: RequestState,
  ): unknown {
    const status = reply.statusCode
    if (status >= 500 && state.stale && canServeOnError(state.stale)) {
      finishInBackground(state, 'error')
      return serveStaleOnError(reply, state, state.stale)
    }
    const fill = state.fill
    if (!fill || fill.done) {
      if (!reply.hasHeader('x-cache')) reply.header('x-cache', 'MISS')
      return payload
    }
    if (events.has('load'))
      events.emit('load', {
        key: state.key,
        durationMs: performance.now() - fill.startedAt,
        ok: status < 500,
        route,
      })
    const storable =
      (compiled.statuses.has(status) || (status === 404 && policy.negativeTtl !== false)) &&
      (typeof payload === 'string' || Buffer.isBuffer(payload)) &&
      responseStorable(reply)
    reply.header('x-cache', 'MISS')
    if (!storable) {
      if (events.has('skip')) events.emit('skip', { key: state.key, reason: 'uncacheable', route })
      finishInBackground(state, status >= 500 ? 'error' : 'none')
      return payload
    }
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload as string)
    const entry = cache.makeEntry(
      state.key,
      policy,
      {
        status,
        contentType: String(reply.getHeader('content-type') ?? ''),
        etag: computeEtag(body),
        body,
        negative: status === 404,
      },
      route,
    )
    let tags: readonly string[] | undefined
    try {
      tags = entry && compiled.tags ? compiled.tags(request, state.value ?? payload) : undefined
    } catch (error) {
      cache.storeFailed('serialize', error, state.key)
      finishInBackground(state)
      return payload
    }
    if (state.fill)
      cache.completeFillInBackground(state.fill, { entry, outcome: 'none', tagNames: tags }, tags)
    if (entry) cacheHeaders(reply, compiled, entry, 0, 'MISS')
    if (entry && tags?.length && compiled.tagsHeader) reply.header(compiled.tagsHeader.name, tags.join(' '))
    return payload
  }

  function onResponse(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    const state = (request as StatefulRequest)[kCacheState]
    // Whatever happened (abort, error before onSend), the lock and the waiters must be released.
    if (state) finishInBackground(state)
    done()
  }

  /**
   * Ends this request's fill with nothing to store (no-op when already ended). 'error': the origin
   * failed, so followers holding a stale copy serve it instead of trying the failing origin again.
   */
  function finishInBackground(state: RequestState, outcome: 'none' | 'error' = 'none') {
    if (state.fill && !state.fill.done) cache.completeFillInBackground(state.fill, { outcome })
  }

  function serveStaleOnError(reply: FastifyReply, state: RequestState, stale: Lookup) {
    if (events.has('stale')) events.emit('stale', { key: state.key, reason: 'error', route })
    const entry = stale.entry
    reply.code(entry.status)
    reply.removeHeader('content-length')
    if (entry.contentType) reply.header('content-type', entry.contentType)
    cacheHeaders(reply, compiled, entry, stale.ageMs, 'STALE')
    return entry.body
  }

  return { onRequest, preSerialization, onSend, onResponse }
}

function canServeOnError(stale: Lookup): boolean {
  return stale.ageMs - stale.entry.freshMs < stale.entry.graceMs
}

function waitBounded<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}
