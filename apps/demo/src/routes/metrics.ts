import type { FastifyPluginAsync } from 'fastify'
import { emptyQuery, errorResponses } from '../schemas.js'

/** `GET /metrics`: the app's registry in the Prometheus text format. */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  const registry = app.metricsRegistry
  app.get(
    '/metrics',
    { schema: { querystring: emptyQuery, response: { ...errorResponses, 200: { type: 'string' } } } },
    async (_request, reply) => {
      reply.type(registry.contentType)
      return registry.metrics()
    },
  )
}
