import type { FastifyRequest } from 'fastify'
import { joinKeyParts, normalizeKey } from '../engine/key.js'
import type { CompiledRoute } from './route-options.js'
import { acceptableEncodings } from './vary.js'

/** Longest vary header value that is part of a key; longer values bypass (bounded variants). */
export const MAX_VARY_VALUE_LENGTH = 256

/**
 * The cache key of a request: route pattern, host, params, the query in a canonical order, the values of
 * the `vary` headers (configured, and learned from responses) and the route's own key part. Every part is length-prefixed, so no user input can make
 * two different requests share a key; long keys are hashed. HEAD shares the GET entry.
 * Returns `undefined` when a vary header is too long to key on.
 */
export function routeKey(
  compiled: CompiledRoute,
  request: FastifyRequest,
  vary: readonly string[] = compiled.vary,
): string | undefined {
  // Host and protocol as Fastify reads them (x-forwarded-host/-proto only under trustProxy): virtual
  // hosts stay apart, and a forwarded header cannot poison what clients of another origin get.
  const parts = ['r', compiled.route, request.protocol, request.host]
  const params = request.params as Record<string, string> | undefined
  if (params) {
    const names = Object.keys(params)
    if (names.length > 1) names.sort()
    for (const name of names) parts.push(name, String(params[name]))
  }
  const url = request.url
  const q = url.indexOf('?')
  if (q >= 0 && q < url.length - 1) {
    parts.push('?')
    // Sorting by name only (stable) keeps the order of repeated names, which handlers may rely on.
    const entries = [...new URLSearchParams(url.slice(q + 1))]
    if (entries.length > 1) entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    for (const [name, value] of entries) parts.push(name, value)
  }
  for (const name of vary) {
    const raw = request.headers[name]
    const value = raw === undefined ? '' : Array.isArray(raw) ? raw.join(',') : raw
    if (value.length > MAX_VARY_VALUE_LENGTH) return undefined
    // Encodings are keyed by what the client accepts, not by how it spells it (bounded variants).
    parts.push('v', name === 'accept-encoding' ? acceptableEncodings(raw as string | undefined) : value)
  }
  if (compiled.key) parts.push('k', String(compiled.key(request)))
  return normalizeKey(joinKeyParts(parts))
}
