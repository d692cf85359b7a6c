import { createTagProvider, fastifyCacheTags } from '@fastkey/cache-tags'
import { fastifyCache, type L1Options } from '@fastkey/fastify-cache'
import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import type { FastifyInstance } from 'fastify'
import { tagsOfWrite } from './cache-policy.js'
import type { CacheHealthCheck, ProductWriteHook } from './types.js'

export interface DemoCacheOptions {
  /** KeyDB/Redis URL; without it the cache lives in process memory (the embedded default). */
  keydbUrl?: string | undefined
  /** Key prefix in KeyDB, so several demos (or tests) can share one server. @default 'demo' */
  namespace?: string
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
    namespace: options.namespace ?? 'demo',
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
    return { ok: health.ok, latencyMs: health.latencyMs }
  }
}

/**
 * After a committed write, invalidates every tag the old and the new version of the product appear
 * under, on every instance. A failure rejects (the client gets a 500 and knows the write may be
 * served stale until the entries expire), never a silent success.
 */
export function invalidateOnWrite(app: FastifyInstance): ProductWriteHook {
  return async (event) => {
    await app.cache.invalidateTags(tagsOfWrite(event), { mode: 'hard' })
  }
}
