import { describeValue } from '@fastkey/fastify-cache/extension'
import { type Registry, register } from 'prom-client'
import { errors } from './errors.js'

export interface CacheMetricsBuckets {
  /**
   * Upper bounds of `lock_wait_seconds`, seconds, increasing.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  lockWait?: readonly number[]
  /**
   * Upper bounds of `load_duration_seconds`, seconds, increasing.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  load?: readonly number[]
}

export interface FastifyCacheMetricsOptions {
  /**
   * Where the metrics are registered. Give each app its own registry when several apps run in one
   * process (tests): two apps cannot share one registry under the same `prefix`.
   * @default prom-client's global registry (`register`), next to fastify-metrics and default metrics
   */
  registry?: Registry
  /** Prefix of every metric name; `[a-zA-Z_:][a-zA-Z0-9_:]*` or empty. @default 'fastkey_cache_' */
  prefix?: string
  /**
   * Serve the registry in the Prometheus text format: `true` on `/metrics`, `{ path }` elsewhere,
   * `false` when the app already exposes this registry (fastify-metrics, your own route).
   * @default true (GET /metrics)
   */
  exposeRoute?: boolean | { path?: string }
  /** Histogram buckets, seconds. */
  buckets?: CacheMetricsBuckets
  /**
   * Maps the key of a service call (`cache.getOrSet('user:42', …)`) to the value of the `route`
   * label, e.g. `(key) => key.split(':')[0]`. It must return a few distinct short strings: every
   * distinct value is a new time series. A throw or a non-string result counts under `service`.
   * @default none: every service call is labelled `route="service"`
   */
  keyGroup?: (key: string) => string
}

export interface ResolvedMetricsOptions {
  registry: Registry
  prefix: string
  /** `undefined` = no route. */
  path: string | undefined
  buckets: { lockWait: number[]; load: number[] }
  keyGroup: ((key: string) => string) | undefined
}

export const DEFAULT_PREFIX = 'fastkey_cache_'
export const DEFAULT_PATH = '/metrics'
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

const OPTION_KEYS = new Set(['registry', 'prefix', 'exposeRoute', 'buckets', 'keyGroup'])
const PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/
const PATH = /^\/[\w\-./~%:@]*$/

function fail(what: string): Error {
  return new errors.FST_CACHE_METRICS_INVALID_OPTION(what)
}

const show = describeValue

function isRegistry(value: unknown): value is Registry {
  const r = value as Registry | null
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.registerMetric === 'function' &&
    typeof r.getSingleMetric === 'function' &&
    typeof r.removeSingleMetric === 'function' &&
    typeof r.metrics === 'function'
  )
}

function resolvePath(exposeRoute: FastifyCacheMetricsOptions['exposeRoute']): string | undefined {
  if (exposeRoute === undefined || exposeRoute === true) return DEFAULT_PATH
  if (exposeRoute === false) return undefined
  if (typeof exposeRoute !== 'object' || exposeRoute === null)
    throw fail(`exposeRoute: expected a boolean or { path }, got ${show(exposeRoute)}`)
  for (const key of Object.keys(exposeRoute))
    if (key !== 'path') throw fail(`exposeRoute.${key}: unknown option`)
  const path = exposeRoute.path ?? DEFAULT_PATH
  if (typeof path !== 'string' || !PATH.test(path))
    throw fail(`exposeRoute.path: expected a path starting with "/", got ${show(path)}`)
  return path
}

function resolveBuckets(name: string, value: readonly number[] | undefined): number[] {
  if (value === undefined) return [...DEFAULT_BUCKETS]
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (b, i) => typeof b === 'number' && b > 0 && Number.isFinite(b) && (i === 0 || b > value[i - 1]!),
    )
  if (!ok) throw fail(`buckets.${name}: expected increasing positive numbers of seconds, got ${show(value)}`)
  return [...value]
}

/** Checks every option and applies the defaults; throws FST_CACHE_METRICS_INVALID_OPTION. */
export function resolveOptions(options: FastifyCacheMetricsOptions | undefined): ResolvedMetricsOptions {
  const given = options ?? {}
  if (typeof given !== 'object' || given === null) throw fail(`expected an object, got ${show(given)}`)
  for (const key of Object.keys(given))
    if (!OPTION_KEYS.has(key)) throw fail(`${key}: unknown option (known: ${[...OPTION_KEYS].join(', ')})`)
  const { registry = register, prefix = DEFAULT_PREFIX, buckets = {}, keyGroup } = given
  if (!isRegistry(registry)) throw fail(`registry: expected a prom-client Registry, got ${show(registry)}`)
  if (typeof prefix !== 'string' || !PREFIX.test(prefix))
    throw fail(`prefix: expected [a-zA-Z_:][a-zA-Z0-9_:]* or '', got ${show(prefix)}`)
  if (typeof buckets !== 'object' || buckets === null)
    throw fail(`buckets: expected { lockWait, load }, got ${show(buckets)}`)
  for (const key of Object.keys(buckets))
    if (key !== 'lockWait' && key !== 'load') throw fail(`buckets.${key}: unknown option`)
  if (keyGroup !== undefined && typeof keyGroup !== 'function')
    throw fail(`keyGroup: expected a function, got ${show(keyGroup)}`)
  return Object.freeze({
    registry,
    prefix,
    path: resolvePath(given.exposeRoute),
    buckets: Object.freeze({
      lockWait: resolveBuckets('lockWait', buckets.lockWait),
      load: resolveBuckets('load', buckets.load),
    }),
    keyGroup,
  }) as ResolvedMetricsOptions
}
