import type { FastifyRequest } from 'fastify'
import { errors } from './errors.js'
import {
  type CachePolicy,
  type CachePolicyOptions,
  POLICY_KEYS,
  rejectUnknownKeys,
  resolvePolicy,
} from './options.js'

/** `config.cache` of a route. Every option not given falls back to the plugin's `defaults`. */
export interface RouteCacheOptions extends Omit<CachePolicyOptions, 'timeoutMs'> {
  /**
   * Extra key part per request, e.g. the user id: with it, requests carrying `authorization` or a
   * cookie are cached per that key instead of bypassing. @default none (method, route, params, query)
   */
  key?: (request: FastifyRequest) => string
  /** Request headers whose values are part of the key (and sent as `vary`). @default [] */
  vary?: readonly string[]
  /** Response status codes that are stored. @default [200] */
  statuses?: readonly number[]
  /** Tags of the entry, from the request and the handler's result (needs @fastkey/cache-tags). */
  tags?: (request: FastifyRequest, payload: unknown) => readonly string[]
  /** Emit `cache-control: public, max-age, stale-while-revalidate` on cached responses. @default false */
  cacheControl?: boolean
  /** Return true to skip the cache for this request (e.g. an admin's forced refresh). */
  bypass?: (request: FastifyRequest) => boolean
}

/** A route's cache settings, validated and compiled once at route registration. */
export interface CompiledRoute {
  route: string
  policy: CachePolicy
  key: ((request: FastifyRequest) => string) | undefined
  vary: string[]
  varyHeader: string | undefined
  statuses: Set<number>
  tags: RouteCacheOptions['tags']
  cacheControl: boolean
  bypass: RouteCacheOptions['bypass']
  /** Response header listing the entry's tags (for CDN purges), with the provider's decoder. */
  tagsHeader: { name: string; names: (recorded: string) => readonly string[] } | undefined
}

/** Plugin-level settings every route starts from. */
export interface RouteDefaults {
  policy: CachePolicy
  cacheControl: boolean
  tagsHeader: CompiledRoute['tagsHeader']
}

// Every policy option except the service-only ones, plus the route's own.
const ROUTE_KEYS = [
  ...POLICY_KEYS.filter((key) => key !== 'timeoutMs' && key !== 'serializer'),
  'key',
  'vary',
  'statuses',
  'tags',
  'cacheControl',
  'bypass',
]

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

function fn(value: unknown, name: string, fail: (what: string) => Error) {
  if (value !== undefined && typeof value !== 'function')
    throw fail(`${name}: expected a function, got ${typeof value}`)
}

export function compileRoute(
  config: RouteCacheOptions,
  methods: readonly string[],
  url: string,
  defaults: RouteDefaults,
): CompiledRoute {
  const fail = (what: string) => new errors.FST_CACHE_ROUTE_CONFIG(`${methods.join(',')} ${url}: ${what}`)
  if (typeof config !== 'object' || config === null)
    throw fail(`expected an object or false, got ${String(config)}`)
  rejectUnknownKeys(config, ROUTE_KEYS, fail)
  if (!methods.some((m) => m === 'GET' || m === 'HEAD')) throw fail('only GET and HEAD routes can be cached')
  const policy = resolvePolicy(config, defaults.policy, fail)
  fn(config.key, 'key', fail)
  fn(config.tags, 'tags', fail)
  fn(config.bypass, 'bypass', fail)
  const vary = (config.vary ?? []).map((name) => {
    if (typeof name !== 'string' || !HEADER_NAME.test(name.toLowerCase()))
      throw fail(`vary: expected header names, got ${String(name)}`)
    return name.toLowerCase()
  })
  if (vary.includes('authorization') || vary.includes('cookie'))
    throw fail('vary: use key(request) to cache per user instead of varying on authorization or cookie')
  const statuses = config.statuses ?? [200]
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 200 || s > 599))
    throw fail(`statuses: expected HTTP status codes, got ${String(statuses)}`)
  if (config.cacheControl !== undefined && typeof config.cacheControl !== 'boolean')
    throw fail(`cacheControl: expected a boolean, got ${String(config.cacheControl)}`)
  return {
    route: url,
    policy,
    key: config.key,
    vary,
    varyHeader: vary.length > 0 ? vary.join(', ') : undefined,
    statuses: new Set(statuses),
    tags: config.tags,
    cacheControl: config.cacheControl ?? defaults.cacheControl,
    bypass: config.bypass,
    tagsHeader: defaults.tagsHeader,
  }
}
