import { isPlainObject } from '@fastkey/support'
import { describeValue, invalidOption, rejectUnknownKeys } from './validate.js'

/** Which request of a route the control calls mean: its URL and, when the key depends on them, headers. */
export interface RouteRequestOptions {
  /** Request headers the route's key depends on (`vary` headers, what `key(req)` reads, auth for refresh). */
  headers?: Record<string, string>
  /** The Host the entry was cached for, when `url` is a path. @default 'localhost:80' (what `inject` sends) */
  host?: string
  /** @default 'http' */
  protocol?: 'http' | 'https'
}

/** How a warm-up or refresh request ended. */
export interface RouteRequestResult {
  url: string
  status: number
  /** `x-cache` of the answer: `MISS` (filled), `HIT` (was fresh already), `BYPASS`, ... */
  cache: string | undefined
}

/** How the engine reaches the routes a Fastify plugin caches (registered by the plugin, per app). */
export interface RouteEntries {
  /** The keys of the entry `url` has (its variants included); undefined when no cached route matches. */
  keysOf(url: string, options: RouteRequestOptions): Promise<string[] | undefined>
  /** Whether a cached route matches `url`. */
  matches(url: string, options: RouteRequestOptions): boolean
  /** Runs `url` as a real GET; `refresh`: its answer is stored whatever the entry had. */
  run(url: string, options: RouteRequestOptions, refresh: boolean): Promise<RouteRequestResult>
}

const OPTION_KEYS = ['headers', 'host', 'protocol']

/** Checks the options of a control call. */
export function checkRequestOptions(options: unknown): RouteRequestOptions {
  if (options === undefined) return {}
  if (!isPlainObject(options))
    throw invalidOption(`options: expected an object, got ${describeValue(options)}`)
  rejectUnknownKeys(options, OPTION_KEYS, invalidOption)
  if (options.headers !== undefined && !isPlainObject(options.headers))
    throw invalidOption(`headers: expected an object of header values, got ${describeValue(options.headers)}`)
  if (options.host !== undefined && typeof options.host !== 'string')
    throw invalidOption(`host: expected a string, got ${describeValue(options.host)}`)
  if (options.protocol !== undefined && options.protocol !== 'http' && options.protocol !== 'https')
    throw invalidOption(`protocol: expected 'http' or 'https', got ${describeValue(options.protocol)}`)
  return options as RouteRequestOptions
}
