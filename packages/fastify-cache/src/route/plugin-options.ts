import { Cache } from '../engine/cache.js'
import type { CacheLogger } from '../engine/log.js'
import {
  type BreakerOptions,
  type CacheOptions,
  type L1Options,
  resolveEngineOptions,
} from '../engine/options.js'
import { type CachePolicyOptions, DEFAULT_POLICY, POLICY_KEYS, resolvePolicy } from '../engine/policy.js'
import type { Serializer } from '../engine/serializer.js'
import {
  boolean,
  describeValue,
  duration,
  invalidOption,
  objectOf,
  rejectUnknownKeys,
} from '../engine/validate.js'
import type { TagProvider } from '../extension/tag-provider.js'
import { KEY_PREFIX } from '../stores/keydb-options.js'
import type { CacheStore } from '../stores/types.js'
import { type LookupHook, lookupHook } from './route-options.js'

export interface FastifyCacheOptions {
  /** An engine you created (shared with services); the plugin then creates none and closes none. */
  cache?: Cache
  /** The store. @default KeyDB through `fastify.keydb` when registered, else in-memory */
  store?: CacheStore
  /**
   * Which `fastify.keydb` connection to use: `true` for the default one, a string for a named one
   * (fastify-keydb's `namespace`), `false` to ignore it. @default true when `fastify.keydb` exists
   */
  keydb?: boolean | string
  /** Prefix of every key in KeyDB: 1-64 of `[A-Za-z0-9_.:-]`. @default 'fk' */
  keyPrefix?: string
  /** Deadline of every KeyDB command the engine sends, ms (1 to 2^31-1). @default 200 */
  commandTimeoutMs?: number
  /**
   * How long an invalidation waits for the KeyDB replicas (or the other active-replica master) to
   * confirm it, ms; 0: no wait. See KeydbStore `replicaAckMs`. @default 100
   */
  replicaAckMs?: number
  /** Policy defaults for routes and service calls. */
  defaults?: Omit<CachePolicyOptions, 'l1'> & { serializer?: Serializer }
  /** The in-process tier. @default false */
  l1?: L1Options | false
  /** Skips the store after repeated failures. @default { failureThreshold: 5, cooldownMs: 1_000 } */
  breaker?: BreakerOptions
  /** Tag provider (`createTagProvider()` of @fastkey/cache-tags). */
  tags?: TagProvider
  /** Emit `cache-control` on cached routes unless a route says otherwise. @default false */
  cacheControl?: boolean
  /**
   * Response header that lists a cached response's tags, so a CDN in front can be purged by the same
   * words (e.g. 'surrogate-key' for Fastly, 'cache-tag' for Cloudflare); `false` = none. Needs a tag
   * provider that can name recorded tags. @default false
   */
  tagsHeader?: string | false
  /** @default the Fastify logger */
  logger?: CacheLogger
  /**
   * The longest the app's close waits for the cache's background work (refreshes, writes), ms; past
   * it, fills still running are abandoned (locks released, nothing stored later). @default 2_000
   */
  closeTimeoutMs?: number
  /**
   * Where cached routes look up the cache: `'onRequest'` (fastest: before body parsing and every
   * other hook) or `'preHandler'` (after `onRequest`/`preValidation`/`preHandler` hooks declared before
   * it, e.g. authentication, so a hit is only served to a request they let through). A route's own
   * `hook` wins. @default 'onRequest'
   */
  hook?: LookupHook
}

/** The plugin's options, all checked; nothing has been created yet. */
export interface ResolvedPluginOptions {
  /** An engine passed in (used as it is), or the (checked) options of the engine the plugin creates. */
  engine: { given: Cache } | { options: CacheOptions; tags: TagProvider | undefined }
  /** `undefined`: use `fastify.keydb` when it exists; `false`: never; else which connection. */
  keydb: true | string | false | undefined
  keyPrefix: string | undefined
  commandTimeoutMs: number | undefined
  replicaAckMs: number | undefined
  cacheControl: boolean
  tagsHeader: string | undefined
  hook: LookupHook
}

// What configures an engine: meaningless (and so refused) next to an engine passed as `cache`.
const ENGINE_KEYS = [
  'store',
  'keydb',
  'keyPrefix',
  'commandTimeoutMs',
  'replicaAckMs',
  'defaults',
  'l1',
  'breaker',
  'tags',
  'logger',
  'closeTimeoutMs',
]
const PLUGIN_KEYS = ['cache', ...ENGINE_KEYS, 'cacheControl', 'tagsHeader', 'hook']
// What configures the KeyDB store the plugin creates: meaningless next to a `store` passed in.
const KEYDB_STORE_KEYS = ['keydb', 'keyPrefix', 'commandTimeoutMs', 'replicaAckMs']
const HEADER_NAME = /^[a-z0-9-]{1,64}$/i
// `l1` is the plugin's own option (the tier); a policy's `l1: false` is set per route or per call.
const DEFAULT_KEYS = POLICY_KEYS.filter((key) => key !== 'l1')

function given(options: Record<string, unknown>, keys: readonly string[]): string | undefined {
  return keys.find((key) => options[key] !== undefined)
}

/**
 * Checks every option of the plugin, the engine's included, and the combinations that cannot work,
 * before anything is created. Throws FST_CACHE_INVALID_OPTION naming the option.
 */
export function resolvePluginOptions(input: unknown, fallbackLogger: CacheLogger): ResolvedPluginOptions {
  const fail = invalidOption
  const options = objectOf(input ?? {}, 'options', fail)
  rejectUnknownKeys(options, PLUGIN_KEYS, fail)
  if (options.cache !== undefined && !(options.cache instanceof Cache))
    throw fail(
      `cache: expected a Cache (new Cache() of @fastkey/fastify-cache), got ${describeValue(options.cache)}`,
    )
  const beside = options.cache !== undefined && given(options, ENGINE_KEYS)
  if (beside) throw fail(`${beside}: configures the engine, but \`cache\` passes one: set it on that Cache`)
  const besideStore = options.store !== undefined && given(options, KEYDB_STORE_KEYS)
  if (besideStore)
    throw fail(`${besideStore}: configures the KeyDB store the plugin creates, but \`store\` passes one`)
  const keydb = options.keydb
  if (keydb !== undefined && typeof keydb !== 'boolean' && !(typeof keydb === 'string' && keydb !== ''))
    throw fail(`keydb: expected true, false or a connection name, got ${describeValue(keydb)}`)
  const keyPrefix = options.keyPrefix
  if (keyPrefix !== undefined && !(typeof keyPrefix === 'string' && KEY_PREFIX.test(keyPrefix)))
    throw fail(`keyPrefix: expected 1-64 characters of [A-Za-z0-9_.:-], got ${describeValue(keyPrefix)}`)
  const commandTimeoutMs =
    options.commandTimeoutMs === undefined
      ? undefined
      : duration(options.commandTimeoutMs, 'commandTimeoutMs', fail)
  const replicaAckMs =
    options.replicaAckMs === undefined
      ? undefined
      : duration(options.replicaAckMs, 'replicaAckMs', fail, { allowZero: true, integer: true })
  const cacheControl =
    options.cacheControl === undefined ? false : boolean(options.cacheControl, 'cacheControl', fail)
  const defaults = resolveDefaults(options.defaults)
  let engine: ResolvedPluginOptions['engine']
  if (options.cache) engine = { given: options.cache as Cache }
  else {
    const engineOptions = {
      ...defaults,
      ...(options.store !== undefined && { store: options.store }),
      ...(options.l1 !== undefined && { l1: options.l1 }),
      ...(options.breaker !== undefined && { breaker: options.breaker }),
      ...(options.tags !== undefined && { tags: options.tags }),
      ...(options.closeTimeoutMs !== undefined && { closeTimeoutMs: options.closeTimeoutMs }),
      logger: options.logger ?? fallbackLogger,
    } as CacheOptions
    engine = { options: engineOptions, tags: resolveEngineOptions(engineOptions).tags }
  }
  const provider = 'given' in engine ? engine.given.tagProvider : engine.tags
  return {
    engine,
    keydb: keydb === true ? true : (keydb as string | false | undefined),
    keyPrefix,
    commandTimeoutMs,
    replicaAckMs,
    cacheControl,
    tagsHeader: resolveTagsHeader(options.tagsHeader, provider),
    hook: options.hook === undefined ? 'onRequest' : lookupHook(options.hook, fail),
  }
}

/** `defaults` checked on their own, so an error names `defaults.<key>`. */
function resolveDefaults(value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  const fail = (what: string) => invalidOption(`defaults.${what}`)
  const defaults = objectOf(value, 'options', fail)
  rejectUnknownKeys(defaults, DEFAULT_KEYS, fail)
  resolvePolicy(defaults, DEFAULT_POLICY, fail)
  return defaults
}

function resolveTagsHeader(value: unknown, provider: TagProvider | undefined): string | undefined {
  if (value === undefined || value === false) return undefined
  if (!(typeof value === 'string' && HEADER_NAME.test(value)))
    throw invalidOption(`tagsHeader: expected a header name or false, got ${describeValue(value)}`)
  if (typeof provider?.names !== 'function')
    throw invalidOption(
      `tagsHeader: "${value}" needs a tag provider that can name tags (@fastkey/cache-tags)`,
    )
  return value.toLowerCase()
}
