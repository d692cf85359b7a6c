import type { FastifyPluginAsync } from 'fastify'
import { categoriesCache, categoryProductsCache } from '../cache-policy.js'
import { findCategory, listCategories, listProducts } from '../db/products.js'
import { errors } from '../errors.js'
import { decodeCursor, pageHeaders, toPage } from '../pagination.js'
import { emptyQuery, errorResponses, pageQuery, productPageSchema, slugParams } from '../schemas.js'

const categoryListSchema = {
  type: 'object',
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'slug', 'name', 'productCount'],
        properties: {
          id: { type: 'integer' },
          slug: { type: 'string' },
          name: { type: 'string' },
          productCount: { type: 'integer' },
        },
      },
    },
  },
} as const

export const categoryRoutes: FastifyPluginAsync = async (app) => {
  const { orm } = app.database

  app.get(
    '/categories',
    {
      config: { cache: categoriesCache },
      schema: { querystring: emptyQuery, response: { ...errorResponses, 200: categoryListSchema } },
    },
    async () => ({ items: await listCategories(orm) }),
  )

  app.get<{ Params: { slug: string }; Querystring: { limit: number; cursor?: string } }>(
    '/categories/:slug/products',
    {
      config: { cache: categoryProductsCache },
      schema: {
        params: slugParams,
        querystring: pageQuery,
        response: { ...errorResponses, 200: productPageSchema },
      },
    },
    async (request, reply) => {
      const { slug } = request.params
      const { limit, cursor } = request.query
      const { rows, total } = await listProducts(orm, {
        categorySlug: slug,
        afterId: decodeCursor(cursor),
        limit: limit + 1,
      })
      // Only an empty page needs to tell "unknown category" from "past the end": one query otherwise.
      if (rows.length === 0 && !(await findCategory(orm, slug))) {
        throw errors.notFound(`category "${slug}" not found`)
      }
      const page = toPage(rows, limit)
      reply.headers(pageHeaders(request.url, page, total))
      return page
    },
  )
}
