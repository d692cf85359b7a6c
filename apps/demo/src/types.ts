import type { FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import type { Database } from './db/client.js'
import type { Product } from './db/products.js'
import type { FeaturedProductsSource } from './services/featured-products.js'

/** What `cacheHealth()` reports; shown as `cache` in `GET /health`. */
export interface CacheHealth {
  ok: boolean
  /** Round-trip time of the cache's health probe, in milliseconds. */
  latencyMs: number
  /** Invalidations held because KeyDB was unreachable (keys plus tags), replayed once it answers. */
  pendingInvalidations?: number
}

/** Probe of the cache for `GET /health`. May throw or hang: the route bounds and catches it. */
export type CacheHealthCheck = () => CacheHealth | Promise<CacheHealth>

/**
 * One committed product write. `before` is null for a create, `after` null for a delete; both are
 * the full product as `GET /products/:id` returns it (with `categorySlug` and `featured`), so a
 * category move or a featured flip names the old and the new list to invalidate.
 */
export interface ProductWriteEvent {
  kind: 'create' | 'update' | 'delete'
  before: Product | null
  after: Product | null
}

/**
 * Called after the write's transaction has committed and before the response is sent (awaited).
 * Resolves `'pending'` when the invalidation could not reach the cache yet and is held to be replayed
 * (the response then says so in `x-cache-invalidation: pending`). If it throws (a bug, not an
 * unreachable cache), the write stays committed and the client gets a 500.
 */
export type ProductWriteHook = (
  event: ProductWriteEvent,
  request: FastifyRequest,
) => void | 'pending' | Promise<void | 'pending'>

declare module 'fastify' {
  interface FastifyInstance {
    /** The database the routes use (postgres.js or PGlite behind one Drizzle type). */
    database: Database
    /** The app's own prom-client registry, served by `GET /metrics`. */
    metricsRegistry: Registry
    /** The service behind `GET /products/featured`. */
    featuredProducts: FeaturedProductsSource
  }
}
