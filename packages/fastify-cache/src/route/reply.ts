import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CacheEntry } from '../engine/entry.js'
import { mergeVary } from './headers.js'
import type { CompiledRoute } from './route-options.js'

export type XCache = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

/** Does an `if-none-match` header match `etag`? (Weak comparison, as RFC 9110 asks for it.) */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header || !etag) return false
  if (header.trim() === '*') return true
  const bare = etag.startsWith('W/') ? etag.slice(2) : etag
  for (const candidate of header.split(',')) {
    const trimmed = candidate.trim()
    if ((trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === bare) return true
  }
  return false
}

/** Whether the client's copy is current (RFC 9110 13.1): `if-none-match`, else `if-modified-since`. */
function notModified(request: FastifyRequest, entry: CacheEntry): boolean {
  const inm = request.headers['if-none-match']
  if (inm !== undefined) return etagMatches(inm, entry.etag)
  const ims = request.headers['if-modified-since']
  const lastModified = entry.headers['last-modified']
  if (ims === undefined || typeof lastModified !== 'string') return false
  const since = Date.parse(ims)
  return Number.isFinite(since) && Date.parse(lastModified) <= since
}

/** Headers every response of a cached entry carries, on top of the ones stored with it. */
export function cacheHeaders(
  reply: FastifyReply,
  compiled: CompiledRoute,
  entry: CacheEntry,
  ageMs: number,
  state: XCache,
): void {
  reply.header('x-cache', state)
  reply.header('age', String(Math.floor(ageMs / 1000)))
  if (entry.etag) reply.header('etag', entry.etag)
  const vary = mergeVary(entry.headers.vary, compiled.varyHeader)
  if (vary !== undefined) reply.header('vary', vary)
  if (compiled.tagsHeader && entry.tags)
    reply.header(
      compiled.tagsHeader.name,
      compiled.tagsHeader.names(entry.tags).join(compiled.tagsHeader.separator),
    )
  if (compiled.cacheControl) {
    const maxAge = Math.max(0, Math.floor((entry.freshMs - ageMs) / 1000))
    const swr = Math.floor(entry.staleMs / 1000)
    reply.header(
      'cache-control',
      swr > 0 ? `public, max-age=${maxAge}, stale-while-revalidate=${swr}` : `public, max-age=${maxAge}`,
    )
  }
}

/**
 * Sends a cached entry as it was stored: same bytes, status, content-type and headers, no
 * re-serialization. Answers 304 when the client already has it. HEAD gets the headers (Node drops
 * the body).
 */
export function sendEntry(
  request: FastifyRequest,
  reply: FastifyReply,
  compiled: CompiledRoute,
  entry: CacheEntry,
  ageMs: number,
  state: XCache,
): FastifyReply {
  for (const name in entry.headers) reply.header(name, entry.headers[name])
  cacheHeaders(reply, compiled, entry, ageMs, state)
  if (entry.status === 200 && notModified(request, entry)) return reply.code(304).send()
  reply.code(entry.status)
  if (entry.contentType) reply.header('content-type', entry.contentType)
  // An empty body without a type (a redirect) is sent as none: a Buffer would get octet-stream.
  return entry.body.length === 0 && !entry.contentType ? reply.send() : reply.send(entry.body)
}
