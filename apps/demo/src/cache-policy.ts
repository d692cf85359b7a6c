import type { RouteCacheOptions } from '@fastkey/fastify-cache'
import type { FastifyRequest } from 'fastify'
import type { ProductWriteEvent } from './types.js'

/**
 * Cache settings of the demo's read routes, and the tags a product write invalidates. Every cached
 * response is tagged with what it depends on, so a write never needs to know a cache key.
 *
 * | tag                | on                                                     |
 * | ------------------ | ------------------------------------------------------ |
 * | `product:<id>`     | `GET /products/:id` (200 and the negative-cached 404)  |
 * | `category:<slug>`  | lists filtered by that category                        |
 * | `featured`         | featured lists                                         |
 * | `products`         | every product list (any write can change a page)       |
 *
 * `GET /categories` (it counts products per category) carries no tag: a write that changes a count
 * deletes that one entry by its URL (`cache.invalidateRoute('/categories')`, see `routesOfWrite`).
 */

const MINUTE = 60_000

/** Shared by the read routes: 5 min fresh, then 1 min stale-while-revalidate, 10 min stale-if-error. */
const readPolicy = {
  ttlMs: 5 * MINUTE,
  staleWhileRevalidateMs: MINUTE,
  staleIfErrorMs: 10 * MINUTE,
  jitter: 0.1,
  lock: { ttlMs: 10_000, waitMs: 5_000 },
} satisfies RouteCacheOptions

/**
 * `GET /products/:id`: a missing product's 404 is cached for 30 s, tagged so a create clears it.
 * Only its own tag: the answer depends on its row alone (a category's slug never changes), and a
 * `category:` tag here would make every write drop every product of that category (with 20
 * categories and 1 % writes, the bench workload served 63 % of reads from the cache, not 95 %).
 */
export const productCache: RouteCacheOptions = {
  ...readPolicy,
  negativeTtlMs: 30_000,
  tags: (request) => [`product:${(request.params as { id: number | string }).id}`],
}

/** `GET /products?category=&featured=`: tagged by the filters it applied. */
export const productListCache: RouteCacheOptions = {
  ...readPolicy,
  tags: (request: FastifyRequest) => {
    const { category, featured } = request.query as { category?: string; featured?: boolean }
    const tags = ['products']
    if (category) tags.push(`category:${category}`)
    if (featured) tags.push('featured')
    return tags
  },
}

/** `GET /categories/:slug/products` (also its 404 for an unknown slug, briefly). */
export const categoryProductsCache: RouteCacheOptions = {
  ...readPolicy,
  negativeTtlMs: 30_000,
  tags: (request) => ['products', `category:${(request.params as { slug: string }).slug}`],
}

/** `GET /categories`, whose product counts change with creates, deletes and moves: invalidated by URL. */
export const categoriesCache: RouteCacheOptions = { ...readPolicy }

/** Featured products through the service's `@cached` method. */
export const FEATURED_TTL_MS = 5 * MINUTE

/** Everything a committed write can have changed: old and new category, featured either side. */
export function tagsOfWrite(event: ProductWriteEvent): string[] {
  const tags = new Set<string>(['products'])
  for (const product of [event.before, event.after]) {
    if (!product) continue
    tags.add(`product:${product.id}`)
    tags.add(`category:${product.categorySlug}`)
    if (product.featured) tags.add('featured')
  }
  return [...tags]
}

/** Route URLs (untagged entries) a committed write can have changed: the category counts. */
export function routesOfWrite(event: ProductWriteEvent): string[] {
  // Counts per category move on creates, deletes and category moves.
  const countsMoved = event.kind !== 'update' || event.before?.categorySlug !== event.after?.categorySlug
  return countsMoved ? ['/categories'] : []
}
