import type { FastifyPluginAsync } from 'fastify'
import { productCache, productListCache } from '../cache-policy.js'
import { findProduct, listProducts } from '../db/products.js'
import { errors } from '../errors.js'
import { decodeCursor, pageHeaders, toPage } from '../pagination.js'
import {
  errorResponses,
  MAX_PAGE_LIMIT,
  productIdParams,
  productListQuery,
  productPageSchema,
  productSchema,
} from '../schemas.js'

const DEFAULT_FEATURED_LIMIT = 10

interface ListQuery {
  category?: string
  featured?: boolean
  limit: number
  cursor?: string
}

const featuredQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_FEATURED_LIMIT },
  },
} as const

const featuredListSchema = {
  type: 'object',
  required: ['items'],
  properties: { items: { type: 'array', items: productSchema } },
} as const

/** Read routes of products. Each one sends exactly one SQL statement per request. */
export const productReadRoutes: FastifyPluginAsync = async (app) => {
  const { orm } = app.database

  app.get<{ Querystring: ListQuery }>(
    '/products',
    {
      config: { cache: productListCache },
      schema: { querystring: productListQuery, response: { ...errorResponses, 200: productPageSchema } },
    },
    async (request, reply) => {
      const { category, featured, limit, cursor } = request.query
      const { rows, total } = await listProducts(orm, {
        categorySlug: category,
        featured,
        afterId: decodeCursor(cursor),
        limit: limit + 1,
      })
      const page = toPage(rows, limit)
      reply.headers(pageHeaders(request.url, page, total))
      return page
    },
  )

  // Static path: find-my-way matches it before /products/:id.
  app.get<{ Querystring: { limit: number } }>(
    '/products/featured',
    { schema: { querystring: featuredQuery, response: { ...errorResponses, 200: featuredListSchema } } },
    async (request) => ({ items: await app.featuredProducts.listFeatured(request.query.limit) }),
  )

  app.get<{ Params: { id: number } }>(
    '/products/:id',
    {
      config: { cache: productCache },
      schema: { params: productIdParams, response: { ...errorResponses, 200: productSchema } },
    },
    async (request) => {
      const product = await findProduct(orm, request.params.id)
      if (!product) throw errors.notFound(`product ${request.params.id} not found`)
      return product
    },
  )
}
