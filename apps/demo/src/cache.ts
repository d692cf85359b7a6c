import { createTagProvider, fastifyCacheTags } from '@fastkey/cache-tags'
import { fastifyCache, type L1Options } from '@fastkey/fastify-cache'
import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import type { FastifyInstance } from 'fastify'
import { routesOfWrite, tagsOfWrite } from './cache-policy.js'
import type { CacheHealthCheck, ProductWriteHook } from './types.js'

export interface DemoCacheOptions {
  /** KeyDB/Redis URL; without it the cache lives in process memory (the embedded default). */
  keydbUrl?: string | undefined
  /** Key prefix in KeyDB, so several demos (or tests) can share one server. @default 'demo' */
  keyPrefix?: string
  /** The in-process L1 tier in front of KeyDB. @default false */
  l1?: L1Options | false
}

/**
 * Registers the cache stack as a user would: KeyDB connection (when configured), the engine with tag
 * invalidation and the `surrogate-key` header, and its Prometheus metrics on the app's registry
 * (served by the demo's own `GET /metrics`). Must run before the routes are declared.
 */
export async function registerCache(app: FastifyInstance, options: DemoCacheOptions): Promise<void> {
  if (options.keydbUrl) await app.register(fastifyKeydb, { url: options.keydbUrl })
  await app.register(fastifyCache, {
    keydb: Boolean(options.keydbUrl),
    keyPrefix: options.keyPrefix ?? 'demo',
    l1: options.l1 ?? false,
    tags: createTagProvider(),
    tagsHeader: 'surrogate-key',
    logger: app.log,
  })
  await app.register(fastifyCacheTags)
  await app.register(fastifyCacheMetrics, { registry: app.metricsRegistry, exposeRoute: false })
}

/** `cache` of `GET /health`: a KeyDB ping, or always fine for the in-process store. */
export function cacheHealthOf(app: FastifyInstance): CacheHealthCheck {
  return async () => {
    if (!app.hasDecorator('keydb')) return { ok: true, latencyMs: 0 }
    const health = await app.keydb.health({ timeoutMs: 500 })
    const { keys, tags, clear } = app.cache.pendingInvalidations
    const pendingInvalidations = keys + tags + (clear ? 1 : 0)
    // Held invalidations mean this instance serves from the database until they are replayed.
    return { ok: health.ok && pendingInvalidations === 0, latencyMs: health.latencyMs, pendingInvalidations }
  }
}

/**
 * After a committed write, invalidates every tag the old and the new version of the product appear
 * under, and the untagged entries it changed by their URL (for the Host and protocol the write came
 * through: the key of a route entry includes them), on every instance. The write committed, so it
 * answers 2xx even when KeyDB is unreachable: fastify-cache then holds the invalidation, serves this
 * instance from the database and replays it before using KeyDB again (`'pending'`, logged). Any other
 * failure rejects (a 500), never a silent success.
 */
export function invalidateOnWrite(app: FastifyInstance): ProductWriteHook {
  return async (event, request) => {
    const where = { host: request.host, protocol: request.protocol }
    const steps = [
      () => app.cache.invalidateTags(tagsOfWrite(event), { mode: 'hard' }),
      ...routesOfWrite(event).map((url) => () => app.cache.invalidateRoute(url, where)),
    ]
    let pending = false
    for (const step of steps) {
      try {
        await step()
      } catch (error) {
        if ((error as { code?: string }).code !== 'FST_CACHE_INVALIDATION_PENDING') throw error
        pending = true
      }
    }
    if (!pending) return
    request.log.warn(
      { product: (event.after ?? event.before)?.id },
      'cache invalidation held until KeyDB answers',
    )
    return 'pending'
  }
}
