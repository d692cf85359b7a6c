import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify'
import FindMyWay, { type Instance } from 'find-my-way'
import type { RouteEntries, RouteRequestOptions, RouteRequestResult } from '../engine/route-entries.js'
import { describeValue } from '../engine/validate.js'
import { errors } from '../errors.js'
import type { CachedRoute } from './cached-route.js'
import { routeKey } from './route-key.js'

/** Marks a request the cache itself injects to refresh one entry: the route runs its handler and stores. */
export const CONTROL_HEADER = 'x-fastkey-control'

/**
 * The entries of cached routes, addressed the way clients address them: by URL (+ host and headers).
 * The plugin keeps a router of its cached routes (find-my-way, as Fastify routes), so a URL is
 * matched to its route and its key built exactly as a request would build it, without running
 * anything; refresh and warm-up run the real request through `inject` (every hook, the handler).
 */
export class RouteControl implements RouteEntries {
  readonly #fastify: FastifyInstance
  readonly #router: Instance<FindMyWay.HTTPVersion.V1>
  readonly #tokens = new Set<string>()

  constructor(fastify: FastifyInstance) {
    this.#fastify = fastify
    this.#router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true })
  }

  add(url: string, route: CachedRoute): void {
    try {
      this.#router.on('GET', url, () => {}, route)
    } catch {
      // Two registrations of one path (another constraint): the first one answers control calls.
    }
  }

  /** The cached route `url` belongs to, and the request it stands for; undefined when none matches. */
  match(
    url: string,
    options: RouteRequestOptions = {},
  ): { route: CachedRoute; request: FastifyRequest } | undefined {
    const target = parseTarget(url, options)
    const found = this.#router.find('GET', target.path)
    if (!found) return undefined
    const request = {
      method: 'GET',
      url: target.pathAndQuery,
      params: found.params,
      query: Object.fromEntries(new URLSearchParams(target.query)),
      headers: Object.fromEntries(
        Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      host: target.host,
      hostname: target.host.split(':')[0],
      protocol: target.protocol,
    } as unknown as FastifyRequest
    return { route: found.store as CachedRoute, request }
  }

  matches(url: string, options?: RouteRequestOptions): boolean {
    return this.match(url, options) !== undefined
  }

  /** The keys of `url`'s entry: its key, and its route key with every variant its vary marker lists. */
  async keysOf(url: string, options?: RouteRequestOptions): Promise<string[] | undefined> {
    const matched = this.match(url, options)
    if (!matched) return undefined
    const { route, request } = matched
    const key = routeKey(route.compiled, request, route.vary.names)
    const base = routeKey(route.compiled, request)
    const keys = new Set([key, base].filter((k): k is string => k !== undefined))
    if (base !== undefined) {
      const found = await route.engine.tiers.lookupStore(base, { ...route.compiled.policy, l1: false })
      if (found && 'vary' in found) for (const variant of found.vary.keys) keys.add(variant)
    }
    return [...keys]
  }

  /** Runs `url` as a real GET (every hook, the handler); `refresh`: the route stores its answer whatever it had. */
  async run(url: string, options: RouteRequestOptions = {}, refresh = false): Promise<RouteRequestResult> {
    const target = parseTarget(url, options)
    const headers: Record<string, string> = { host: target.host, ...options.headers }
    let token: string | undefined
    if (refresh) {
      token = randomBytes(18).toString('base64url')
      this.#tokens.add(token)
      headers[CONTROL_HEADER] = token
    }
    try {
      const response: LightMyRequestResponse = await this.#fastify.inject({
        method: 'GET',
        url: target.pathAndQuery,
        headers,
      })
      return { url, status: response.statusCode, cache: response.headers['x-cache'] as string | undefined }
    } finally {
      if (token) this.#tokens.delete(token)
    }
  }

  /** Whether a request carries a refresh token this control issued (and only then forces a refresh). */
  isRefresh(request: FastifyRequest): boolean {
    const token = request.headers[CONTROL_HEADER]
    return typeof token === 'string' && this.#tokens.has(token)
  }
}

function parseTarget(url: string, options: RouteRequestOptions) {
  if (typeof url !== 'string' || url === '')
    throw new errors.FST_CACHE_INVALID_KEY(`url ${describeValue(url)}`)
  const absolute = /^https?:\/\//i.test(url)
  const parsed = new URL(url, `${options.protocol ?? 'http'}://${options.host ?? 'localhost:80'}`)
  const host = absolute ? parsed.host : (options.host ?? 'localhost:80')
  const protocol = absolute ? parsed.protocol.slice(0, -1) : (options.protocol ?? 'http')
  const query = parsed.search.slice(1)
  return { host, protocol, path: parsed.pathname, query, pathAndQuery: `${parsed.pathname}${parsed.search}` }
}
