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

/** Most request keys remembered across all routes of one plugin (about 200 bytes each). */
export const KEY_MEMO_ENTRIES = 16_384

/** The memos of one plugin's routes and their shared bound: once full, every memo starts over. */
export class KeyMemos {
  readonly #memos: RouteKeyMemo[] = []
  #size = 0

  get size(): number {
    return this.#size
  }

  /** A memo for one route, counted in this bound. */
  forRoute(compiled: CompiledRoute): RouteKeyMemo {
    const memo = new RouteKeyMemo(compiled, this)
    this.#memos.push(memo)
    return memo
  }

  /** Room for one more key: when the bound is reached, every route's memo is emptied first. */
  reserve(): void {
    if (this.#size >= KEY_MEMO_ENTRIES) {
      for (const memo of this.#memos) memo.clear()
      this.#size = 0
    }
    this.#size++
  }
}

/**
 * The key of a route whose key depends on nothing but protocol, host and URL (no `vary`, no `key`
 * option), remembered per (protocol, host, URL). Why: a key built by concatenation is a rope, and
 * V8 hashes a fresh rope slowly; this turns the hit path's key into lookups of short flat strings
 * and hands L1 (and the store) a string whose hash is already computed. Same URL, same params and
 * query, so the remembered key is the one `routeKey` builds.
 */
export class RouteKeyMemo {
  readonly #compiled: CompiledRoute
  readonly #bound: KeyMemos
  /** protocol → host → url → key */
  #byProtocol = new Map<string, Map<string, Map<string, string>>>()

  constructor(compiled: CompiledRoute, bound: KeyMemos) {
    this.#compiled = compiled
    this.#bound = bound
  }

  /** The key of `request`, for routes keyed on no request header (`vary` empty) and no `key` option. */
  of(request: FastifyRequest): string {
    const { protocol, host, url } = request
    const known = this.#byProtocol.get(protocol)?.get(host)?.get(url)
    if (known !== undefined) return known
    const key = routeKey(this.#compiled, request, []) as string
    this.#bound.reserve()
    let byHost = this.#byProtocol.get(protocol)
    if (byHost === undefined) {
      byHost = new Map()
      this.#byProtocol.set(protocol, byHost)
    }
    let byUrl = byHost.get(host)
    if (byUrl === undefined) {
      byUrl = new Map()
      byHost.set(host, byUrl)
    }
    byUrl.set(url, key)
    return key
  }

  clear(): void {
    this.#byProtocol = new Map()
  }
}
