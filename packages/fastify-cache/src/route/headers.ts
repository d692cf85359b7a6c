import type { FastifyReply } from 'fastify'
import type { StoredHeaders } from '../engine/entry.js'

/**
 * Never stored: hop-by-hop headers (RFC 9110 7.6.1), what Node or Fastify computes per response
 * (`date`, `content-length`), `set-cookie` (such responses are never stored at all), the fields an
 * entry keeps apart (`content-type`, `etag`) and the cache's own headers (set on every response).
 */
const NEVER_STORED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'date',
  'content-length',
  'content-type',
  'etag',
  'x-cache',
  'age',
])

/** Which response headers of a route are stored (compiled from its `headers` option). */
export interface HeaderRule {
  /** Never store these (beyond the headers never stored at all). */
  omit: ReadonlySet<string>
  /** Store these even when they were already set before the cache's lookup hook ran. */
  keep: ReadonlySet<string>
}

/** Headers a reply carries when the lookup hook runs: set by earlier hooks, not by the handler. */
export type HeaderSnapshot = Readonly<Record<string, unknown>>

/** Names that can never be stored, whatever `keep` says. */
export function neverStored(name: string): boolean {
  return NEVER_STORED.has(name)
}

/**
 * The headers of `reply` to store with its entry: what the handler (and hooks after the lookup) set,
 * minus the headers never stored, the route's `omit`, the tags header and the headers the
 * `connection` header nominates as hop-by-hop. A header set before the lookup (by an `onRequest`
 * hook: a request id, say) is per request and is not replayed, unless the route's `keep` says so.
 */
export function storedHeadersOf(
  reply: FastifyReply,
  before: HeaderSnapshot,
  rule: HeaderRule,
  tagsHeader: string | undefined,
): StoredHeaders {
  const headers: Record<string, string | string[]> = Object.create(null)
  const all = reply.getHeaders()
  const nominated = hopByHopNominated(all.connection)
  for (const name in all) {
    const value = all[name]
    if (value === undefined || NEVER_STORED.has(name) || rule.omit.has(name) || name === tagsHeader) continue
    if (nominated?.has(name)) continue
    if (before[name] === value && !rule.keep.has(name)) continue
    headers[name] = Array.isArray(value) ? value.map(String) : String(value)
  }
  return headers
}

function hopByHopNominated(connection: unknown): Set<string> | undefined {
  if (connection === undefined) return undefined
  return new Set(
    String(connection)
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  )
}

/** The union of two `vary` values (either may be absent), names kept once, in order. */
export function mergeVary(
  a: string | readonly string[] | undefined,
  b: string | undefined,
): string | undefined {
  if (a === undefined || a === '') return b
  const first = typeof a === 'string' ? a : a.join(', ')
  if (b === undefined) return first
  const names = new Set(
    `${first},${b}`
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  )
  return [...names].join(', ')
}

/** The names a `vary` value lists, lower-cased (`*` included as it is). */
export function varyNames(value: unknown): string[] {
  if (value === undefined) return []
  const text = Array.isArray(value) ? value.join(',') : String(value)
  return text
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean)
}
