import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import {
  createProduct,
  deleteProduct,
  type ProductInput,
  type ProductPatch,
  updateProduct,
} from '../db/product-writes.js'
import { errors } from '../errors.js'
import {
  createProductBody,
  errorResponses,
  productIdParams,
  productSchema,
  updateProductBody,
} from '../schemas.js'
import type { ProductWriteHook } from '../types.js'

/** The write committed but its cache invalidation is held for replay: say so to the client. */
function markPending(reply: FastifyReply, outcome: void | 'pending'): void {
  if (outcome === 'pending') reply.header('x-cache-invalidation', 'pending')
}

export interface ProductWriteRouteOptions {
  onProductWrite: ProductWriteHook
}

/**
 * Write routes. Order matters for caches: the transaction commits, THEN the hook runs (so an
 * invalidation cannot be undone by a reader refilling from the not-yet-committed old row), THEN the
 * response is sent (so a client that reads after its write sees the new value).
 */
export const productWriteRoutes: FastifyPluginAsync<ProductWriteRouteOptions> = async (app, options) => {
  const { orm } = app.database
  const { onProductWrite } = options

  app.post<{ Body: ProductInput }>(
    '/products',
    { schema: { body: createProductBody, response: { ...errorResponses, 201: productSchema } } },
    async (request, reply) => {
      const change = await createProduct(orm, request.body)
      markPending(reply, await onProductWrite({ kind: 'create', ...change }, request))
      reply.code(201).header('location', `/products/${change.after.id}`)
      return change.after
    },
  )

  app.patch<{ Params: { id: number }; Body: ProductPatch }>(
    '/products/:id',
    {
      schema: {
        params: productIdParams,
        body: updateProductBody,
        response: { ...errorResponses, 200: productSchema },
      },
    },
    async (request, reply) => {
      const change = await updateProduct(orm, request.params.id, request.body)
      if (!change) throw errors.notFound(`product ${request.params.id} not found`)
      markPending(reply, await onProductWrite({ kind: 'update', ...change }, request))
      return change.after
    },
  )

  app.delete<{ Params: { id: number } }>(
    '/products/:id',
    { schema: { params: productIdParams, response: { ...errorResponses, 204: { type: 'null' } } } },
    async (request, reply) => {
      const change = await deleteProduct(orm, request.params.id)
      if (!change) throw errors.notFound(`product ${request.params.id} not found`)
      markPending(reply, await onProductWrite({ kind: 'delete', ...change }, request))
      return reply.code(204).send()
    },
  )
}
