import type { FastifyRequest } from 'fastify'
import { type CachePolicy, type CachePolicyOptions, POLICY_KEYS, resolvePolicy } from '../engine/policy.js'
import {
  boolean,
  describeValue,
  duration,
  type Fail,
  integer,
  objectOf,
  optionalFunction,
  rejectUnknownKeys,
} from '../engine/validate.js'
import { errors } from '../errors.js'
import { type HeaderRule, neverStored } from './headers.js'

/** Where a route's lookup runs: `onRequest` (fastest) or `preHandler` (after auth hooks). */
export type LookupHook = 'onRequest' | 'preHandler'

/** `config.cache` of a route. Every option not given falls back to the plugin's `defaults`. */
export interface RouteCacheOptions extends CachePolicyOptions {
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
  /** Return true to skip the cache for this request: the handler runs, nothing is read or stored. */
  bypass?: (request: FastifyRequest) => boolean
  /**
   * Return true to refresh the entry with this request: the handler runs (no lookup) and its response
   * is stored, as for a miss (e.g. an admin's forced refresh).
   */
  refresh?: (request: FastifyRequest) => boolean
  /**
   * Which response headers are stored and replayed on a hit. Every header the handler sets is, except
   * hop-by-hop headers, `set-cookie`, `date`, `content-length` and the cache's own; `omit` drops more,
   * `keep` also stores headers set before the lookup hook ran (by default those are per request).
   */
  headers?: { omit?: readonly string[]; keep?: readonly string[] }
  /**
   * Longest fresh time a response's own `cache-control` (`s-maxage`, `max-age`) may give its entry, ms.
   * @default the route's `ttlMs`
   */
  maxTtlMs?: number
  /**
   * Most variants stored per URL when the handler answers with `vary` (one per combination of the
   * varying request headers); requests for more variants bypass. @default 32
   */
  maxVariants?: number
  /** Where the lookup runs. @default the plugin's `hook` ('onRequest') */
  hook?: LookupHook
}

/** A route's cache settings, validated and compiled once at route registration. */
export interface CompiledRoute {
  route: string
  policy: CachePolicy
  key: ((request: FastifyRequest) => string) | undefined
  /** Request headers the key is built from: the configured `vary` (plus accept-encoding, see below). */
  vary: string[]
  /** The `vary` header every response of the route carries (the configured names). */
  varyHeader: string | undefined
  statuses: Set<number>
  tags: RouteCacheOptions['tags']
  cacheControl: boolean
  bypass: RouteCacheOptions['bypass']
  refresh: RouteCacheOptions['refresh']
  headers: HeaderRule
  maxTtlMs: number
  maxVariants: number
  hook: LookupHook
  /** Response header listing the entry's tags (for CDN purges), with the provider's decoder. */
  tagsHeader: TagsHeader | undefined
}

export interface TagsHeader {
  name: string
  /** How the header separates tags: `,` for Cloudflare's `cache-tag`, a space otherwise (Fastly, Akamai). */
  separator: string
  names: (recorded: string) => readonly string[]
}

/** Plugin-level settings every route starts from. */
export interface RouteDefaults {
  policy: CachePolicy
  cacheControl: boolean
  tagsHeader: CompiledRoute['tagsHeader']
  /** Whether the engine has a tag provider (route `tags` need one). */
  tagProvider: boolean
  hook: LookupHook
  /**
   * @fastify/compress was registered before the cache: it encodes responses before the cache stores
   * them, per client, and adds `vary` only to those it encodes. Keying on accept-encoding from the
   * start keeps an identity body from being served (and re-encoded) to gzip clients.
   */
  keyOnEncoding: boolean
}

// Every policy option except the service-only serializer, plus the route's own.
const ROUTE_KEYS = [
  ...POLICY_KEYS.filter((key) => key !== 'serializer'),
  'key',
  'vary',
  'statuses',
  'tags',
  'cacheControl',
  'bypass',
  'refresh',
  'headers',
  'maxTtlMs',
  'maxVariants',
  'hook',
]
export const DEFAULT_MAX_VARIANTS = 32
const HOOKS: readonly LookupHook[] = ['onRequest', 'preHandler']

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

export function compileRoute(
  config: RouteCacheOptions,
  methods: readonly string[],
  url: string,
  defaults: RouteDefaults,
): CompiledRoute {
  const fail = (what: string) => new errors.FST_CACHE_ROUTE_CONFIG(`${methods.join(',')} ${url}: ${what}`)
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw fail(`expected an object or false, got ${describeValue(config)}`)
  rejectUnknownKeys(config, ROUTE_KEYS, fail)
  if (!methods.some((m) => m === 'GET' || m === 'HEAD')) throw fail('only GET and HEAD routes can be cached')
  const policy = resolvePolicy(config, defaults.policy, fail)
  optionalFunction(config.key, 'key', fail)
  optionalFunction(config.tags, 'tags', fail)
  optionalFunction(config.bypass, 'bypass', fail)
  optionalFunction(config.refresh, 'refresh', fail)
  if (config.tags !== undefined && !defaults.tagProvider)
    throw fail('tags: needs a tag provider (pass createTagProvider() of @fastkey/cache-tags as `tags`)')
  const vary = [...headerNames(config.vary, 'vary', fail)]
  if (vary.includes('authorization') || vary.includes('cookie'))
    throw fail('vary: use key(request) to cache per user instead of varying on authorization or cookie')
  const statuses = config.statuses ?? [200]
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 200 || s > 599))
    throw fail(`statuses: expected HTTP status codes from 200 to 599, got ${describeValue(statuses)}`)
  if (config.cacheControl !== undefined) boolean(config.cacheControl, 'cacheControl', fail)
  return {
    ...routeExtras(config, policy, defaults, fail),
    route: url,
    policy,
    key: config.key,
    vary: defaults.keyOnEncoding && !vary.includes('accept-encoding') ? [...vary, 'accept-encoding'] : vary,
    varyHeader: vary.length > 0 ? vary.join(', ') : undefined,
    statuses: new Set(statuses),
    tags: config.tags,
    cacheControl: config.cacheControl ?? defaults.cacheControl,
    bypass: config.bypass,
    refresh: config.refresh,
    tagsHeader: defaults.tagsHeader,
  }
}

/** Checks a lookup hook name (route or plugin option). */
export function lookupHook(value: unknown, fail: Fail): LookupHook {
  if (!HOOKS.includes(value as LookupHook))
    throw fail(`hook: expected 'onRequest' or 'preHandler', got ${describeValue(value)}`)
  return value as LookupHook
}

function routeExtras(config: RouteCacheOptions, policy: CachePolicy, defaults: RouteDefaults, fail: Fail) {
  return {
    headers: headerRule(config.headers, fail),
    maxTtlMs: config.maxTtlMs === undefined ? policy.ttlMs : duration(config.maxTtlMs, 'maxTtlMs', fail),
    maxVariants:
      config.maxVariants === undefined
        ? DEFAULT_MAX_VARIANTS
        : integer(config.maxVariants, 'maxVariants', fail, 1, 1024),
    hook: config.hook === undefined ? defaults.hook : lookupHook(config.hook, fail),
  }
}

function headerNames(value: unknown, key: string, fail: Fail): Set<string> {
  if (value === undefined) return new Set()
  if (!Array.isArray(value)) throw fail(`${key}: expected header names, got ${describeValue(value)}`)
  return new Set(
    value.map((name) => {
      if (typeof name !== 'string' || !HEADER_NAME.test(name.toLowerCase()))
        throw fail(`${key}: expected header names, got ${describeValue(name)}`)
      return name.toLowerCase()
    }),
  )
}

function headerRule(value: unknown, fail: Fail): HeaderRule {
  if (value === undefined) return { omit: new Set(), keep: new Set() }
  const rule = objectOf(value, 'headers', fail)
  rejectUnknownKeys(rule, ['omit', 'keep'], fail, 'headers.')
  const keep = headerNames(rule.keep, 'headers.keep', fail)
  const never = [...keep].find(neverStored)
  if (never !== undefined)
    throw fail(`headers.keep: "${never}" is never stored (hop-by-hop, per response or the cache's own)`)
  return { omit: headerNames(rule.omit, 'headers.omit', fail), keep }
}
