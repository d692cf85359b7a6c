import { type Cache, cached } from '@fastkey/fastify-cache'
import { FEATURED_TTL_MS } from '../cache-policy.js'
import type { Db } from '../db/client.js'
import { listProducts, type Product } from '../db/products.js'

/** What `GET /products/featured` needs: swap in a cached implementation through buildApp. */
export interface FeaturedProductsSource {
  listFeatured(limit: number): Promise<Product[]>
}

/**
 * Featured products, newest id last. A plain service (no Fastify in sight) so that the cache's
 * method decorator can wrap `listFeatured` the way it would wrap any service call in a worker.
 * Its result is JSON-safe, so a cached copy is indistinguishable from a fresh one.
 */
export class FeaturedProducts implements FeaturedProductsSource {
  constructor(protected readonly orm: Db) {}

  /** The first `limit` featured products by id: one indexed statement on (featured, id). */
  async listFeatured(limit: number): Promise<Product[]> {
    return (await listProducts(this.orm, { featured: true, limit })).rows
  }
}

/**
 * The same service with its read cached through the standard `@cached` decorator: the engine comes
 * from the instance's `cache` property, and `invalidateTags(['featured'])` clears it after a write.
 */
export class CachedFeaturedProducts extends FeaturedProducts {
  constructor(
    orm: Db,
    readonly cache: Cache,
  ) {
    super(orm)
  }

  // `featured` only: a write can change this list only if the product is featured before or after
  // it, and then the write invalidates `featured` (`tagsOfWrite`).
  @cached({
    ttlMs: FEATURED_TTL_MS,
    tags: ['featured'],
    key: (limit: number) => `featured:${limit}`,
  })
  override listFeatured(limit: number): Promise<Product[]> {
    return super.listFeatured(limit)
  }
}
