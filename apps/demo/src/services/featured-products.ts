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
  listFeatured(limit: number): Promise<Product[]> {
    return listProducts(this.orm, { featured: true, limit })
  }
}
