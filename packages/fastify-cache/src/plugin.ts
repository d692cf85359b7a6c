import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { BreakerOptions } from './breaker.js'
import { Cache } from './cache.js'
import { errors } from './errors.js'
import type { CacheLogger } from './log.js'
import { type CachePolicyOptions, type L1Options, rejectUnknownKeys } from './options.js'
import { createRouteHooks, kCacheState, RouteRuntime } from './route-hooks.js'
import { compileRoute, type RouteCacheOptions } from './route-options.js'
import type { Serializer } from './serializer.js'
import { KeydbStore, type KeydbStoreOptions } from './store/keydb.js'
import type { CacheStore } from './store/types.js'
import type { TagProvider } from './tags.js'
import './types.js'

export interface FastifyCacheOptions {
  /** An engine you created (shared with services); the plugin then creates none and closes none. */
  cache?: Cache
  /** The store. @default KeyDB through `fastify.keydb` when registered, else in-memory */
  store?: CacheStore
  /**
   * Which `fastify.keydb` connection to use: `true` for the default one, a string for a namespace,
   * `false` to ignore it. @default true when `fastify.keydb` exists
   */
  keydb?: boolean | string
  /** Key prefix in KeyDB. @default 'fk' */
  namespace?: string
  /** Deadline of every KeyDB call, ms. @default 200 */
  storeTimeoutMs?: number
  /** Policy defaults for routes and service calls. */
  defaults?: Omit<CachePolicyOptions, 'l1'> & { serializer?: Serializer }
  /** The in-process tier. @default false */
  l1?: L1Options | false
  breaker?: BreakerOptions
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
}

const PLUGIN_KEYS = [
  'cache',
  'store',
  'keydb',
  'namespace',
  'storeTimeoutMs',
  'defaults',
  'l1',
  'breaker',
  'tags',
  'cacheControl',
  'tagsHeader',
  'logger',
]

type KeydbLike = KeydbStoreOptions['client'] & { subscriber?: () => unknown }

function isClient(value: unknown): value is KeydbLike {
  return (
    typeof value === 'object' && value !== null && typeof (value as KeydbLike).defineCommand === 'function'
  )
}

function chooseStore(fastify: FastifyInstance, options: FastifyCacheOptions): CacheStore | undefined {
  if (options.store) return options.store
  const fail = (what: string) => new errors.FST_CACHE_INVALID_OPTION(what)
  const choice = options.keydb
  if (choice === false) return undefined
  const decorated = fastify.hasDecorator('keydb')
    ? (fastify as unknown as { keydb: unknown }).keydb
    : undefined
  if (choice !== undefined && decorated === undefined)
    throw fail(
      `keydb: ${String(choice)} asks for fastify.keydb, but @fastkey/fastify-keydb is not registered`,
    )
  const client =
    typeof choice === 'string' ? (decorated as Record<string, unknown> | undefined)?.[choice] : decorated
  if (!isClient(client)) {
    if (choice !== undefined)
      throw fail(`keydb: no KeyDB connection ${typeof choice === 'string' ? `named "${choice}"` : ''}`)
    return undefined
  }
  if (
    options.storeTimeoutMs !== undefined &&
    !(typeof options.storeTimeoutMs === 'number' && options.storeTimeoutMs > 0)
  )
    throw fail(`storeTimeoutMs: expected a positive number of ms, got ${String(options.storeTimeoutMs)}`)
  const subscriber =
    typeof client.subscriber === 'function' ? () => (client.subscriber as () => KeydbLike)() : undefined
  return new KeydbStore({
    client,
    ...(options.namespace !== undefined && { namespace: options.namespace }),
    ...(options.storeTimeoutMs !== undefined && { commandTimeoutMs: options.storeTimeoutMs }),
    ...(subscriber && { subscriber }),
  })
}

const plugin: FastifyPluginAsync<FastifyCacheOptions> = async (fastify, options) => {
  if (fastify.hasDecorator('cache')) throw new errors.FST_CACHE_ALREADY_REGISTERED()
  const fail = (what: string) => new errors.FST_CACHE_INVALID_OPTION(what)
  rejectUnknownKeys(options, PLUGIN_KEYS, fail)
  if (
    options.namespace !== undefined &&
    !(typeof options.namespace === 'string' && /^[\w.-]{1,64}$/.test(options.namespace))
  )
    throw fail(`namespace: expected 1-64 characters of [A-Za-z0-9_.-], got ${String(options.namespace)}`)
  if (options.cacheControl !== undefined && typeof options.cacheControl !== 'boolean')
    throw fail(`cacheControl: expected a boolean, got ${String(options.cacheControl)}`)

  const ownsCache = options.cache === undefined
  const store = ownsCache ? chooseStore(fastify, options) : undefined
  const cache =
    options.cache ??
    new Cache({
      ...options.defaults,
      ...(store && { store }),
      ...(options.l1 !== undefined && { l1: options.l1 }),
      ...(options.breaker && { breaker: options.breaker }),
      ...(options.tags && { tags: options.tags }),
      logger: options.logger ?? fastify.log,
    })
  fastify.decorate('cache', cache)
  fastify.decorateRequest(kCacheState, null)

  const runtime = new RouteRuntime(fastify, cache)
  const routeErrors: Error[] = []
  const tagsHeader = options.tagsHeader ?? false
  if (tagsHeader !== false && !(typeof tagsHeader === 'string' && /^[a-z0-9-]{1,64}$/i.test(tagsHeader)))
    throw fail(`tagsHeader: expected a header name or false, got ${String(tagsHeader)}`)
  const provider = cache.tagProvider
  if (tagsHeader !== false && !provider?.names)
    throw fail(`tagsHeader: "${tagsHeader}" needs a tag provider that can name tags (@fastkey/cache-tags)`)
  const routeDefaults = {
    policy: cache.defaults,
    cacheControl: options.cacheControl ?? false,
    tagsHeader:
      tagsHeader === false || !provider?.names
        ? undefined
        : { name: tagsHeader.toLowerCase(), names: (recorded: string) => provider.names!(recorded) },
  }

  fastify.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config as { cache?: RouteCacheOptions | false } | undefined)?.cache
    if (config === undefined || config === false) return
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    let compiled: ReturnType<typeof compileRoute>
    try {
      compiled = compileRoute(config, methods, route.url, routeDefaults)
    } catch (error) {
      // Reported by ready(), so a bad config fails startup wherever the route was declared.
      routeErrors.push(error as Error)
      return
    }
    const hooks = createRouteHooks(runtime, compiled)
    // New arrays: Fastify copies route options for the HEAD twin, a pushed-into array would be shared.
    route.onRequest = [...toArray(route.onRequest), hooks.onRequest]
    route.preSerialization = [...toArray(route.preSerialization), hooks.preSerialization] as never
    route.onSend = [...toArray(route.onSend), hooks.onSend] as never
    route.onResponse = [...toArray(route.onResponse), hooks.onResponse] as never
  })

  fastify.addHook('onReady', async () => {
    if (routeErrors.length > 0) throw routeErrors[0]
  })

  fastify.addHook('onClose', async () => {
    // Background refreshes run through inject(): let them finish before the store goes away.
    if (ownsCache) {
      await cache.close()
      await store?.close()
    } else {
      await cache.drain()
    }
  })
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

export const fastifyCache = fp(plugin, {
  fastify: '5.x',
  name: '@fastkey/fastify-cache',
})
