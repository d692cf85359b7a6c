import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CacheEntry } from './entry.js'
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

/** Headers every response of a cached entry carries. */
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
  if (compiled.varyHeader) reply.header('vary', compiled.varyHeader)
  if (compiled.tagsHeader && entry.tags)
    reply.header(compiled.tagsHeader.name, compiled.tagsHeader.names(entry.tags).join(' '))
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
 * Sends a cached entry as it was stored: same bytes, status and content-type, no re-serialization.
 * Answers 304 when the client already has it. HEAD gets the headers (Fastify drops the body).
 */
export function sendEntry(
  request: FastifyRequest,
  reply: FastifyReply,
  compiled: CompiledRoute,
  entry: CacheEntry,
  ageMs: number,
  state: XCache,
): FastifyReply {
  cacheHeaders(reply, compiled, entry, ageMs, state)
  if (entry.status === 200 && etagMatches(request.headers['if-none-match'], entry.etag)) {
    return reply.code(304).send()
  }
  reply.code(entry.status)
  if (entry.contentType) reply.header('content-type', entry.contentType)
  return reply.send(entry.body)
}

const NOT_STORABLE = /(?:^|,)\s*(?:no-store|private)\b/i

/** Whether a response may be stored at all (DESIGN 8): no cookies, no private or no-store, no `vary: *`. */
export function responseStorable(reply: FastifyReply): boolean {
  if (reply.getHeader('set-cookie') !== undefined) return false
  const cc = reply.getHeader('cache-control')
  if (cc !== undefined && NOT_STORABLE.test(String(cc))) return false
  const vary = reply.getHeader('vary')
  if (
    vary !== undefined &&
    String(vary)
      .split(',')
      .some((v) => v.trim() === '*')
  )
    return false
  return true
}
