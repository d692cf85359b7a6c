import type { RouteCacheOptions } from '@fastkey/fastify-cache'
import type { FastifyRequest } from 'fastify'
import type { Product } from './db/products.js'
import type { ProductWriteEvent } from './types.js'

/**
 * Cache settings of the demo's read routes, and the tags a product write invalidates. Every cached
 * response is tagged with what it depends on, so a write never needs to know a cache key.
 *
 * | tag                | on                                                     |
 * | ------------------ | ------------------------------------------------------ |
 * | `product:<id>`     | `GET /products/:id` (200 and the negative-cached 404)  |
 * | `category:<slug>`  | the product, lists filtered by that category           |
 * | `featured`         | featured lists                                         |
 * | `products`         | every product list (any write can change a page)       |
 * | `categories`       | `GET /categories` (it counts products)                 |
 */

const MINUTE = 60_000

/** Shared by the read routes: 5 min fresh, then 1 min stale-while-revalidate, 10 min stale-if-error. */
const readPolicy = {
  ttl: 5 * MINUTE,
  staleWhileRevalidate: MINUTE,
  staleIfError: 10 * MINUTE,
  jitter: 0.1,
  lock: { ttlMs: 10_000, waitMs: 5_000 },
} satisfies RouteCacheOptions

function isProduct(payload: unknown): payload is Product {
  return typeof payload === 'object' && payload !== null && 'categorySlug' in payload && 'id' in payload
}

/** `GET /products/:id`: a missing product's 404 is cached for 30 s, tagged so a create clears it. */
export const productCache: RouteCacheOptions = {
  ...readPolicy,
  negativeTtl: 30_000,
  tags: (request, payload) => {
    const { id } = request.params as { id: number | string }
    return isProduct(payload) ? [`product:${id}`, `category:${payload.categorySlug}`] : [`product:${id}`]
  },
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
  negativeTtl: 30_000,
  tags: (request) => ['products', `category:${(request.params as { slug: string }).slug}`],
}

/** `GET /categories`, whose product counts change with creates, deletes and moves. */
export const categoriesCache: RouteCacheOptions = { ...readPolicy, tags: () => ['categories'] }

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
  // Counts per category move on creates, deletes and category moves.
  if (event.kind !== 'update' || event.before?.categorySlug !== event.after?.categorySlug)
    tags.add('categories')
  return [...tags]
}
