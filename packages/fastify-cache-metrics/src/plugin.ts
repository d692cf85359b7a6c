import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from './errors.js'
import { subscribe } from './listeners.js'
import { createMetrics, removeMetrics } from './metrics.js'
import { type FastifyCacheMetricsOptions, resolveOptions } from './options.js'
import type { CacheMetrics } from './types.js'
import './types.js'

const plugin: FastifyPluginAsync<FastifyCacheMetricsOptions> = async (fastify, options) => {
  // Two registrations on one engine would count every event twice.
  if (fastify.hasDecorator('cacheMetrics')) throw new errors.FST_CACHE_METRICS_ALREADY_REGISTERED()
  const resolved = resolveOptions(options)
  const { registry, path } = resolved
  const metrics = createMetrics(fastify.cache, resolved)
  // The engine only builds event payloads for events somebody listens to: listen from here on only.
  const unsubscribe = subscribe(fastify.cache, metrics, resolved.keyGroup)
  const decoration: CacheMetrics = Object.freeze({
    registry,
    names: Object.freeze([...metrics.all.keys()]),
    path,
  })
  fastify.decorate('cacheMetrics', decoration)

  const release = () => {
    unsubscribe()
    // Frees the names, so a new app (a restart in the same process, the next test) can register them.
    removeMetrics(registry, metrics)
  }
  fastify.addHook('onClose', async () => release())

  if (path !== undefined) {
    try {
      fastify.get(path, async (_request, reply) => {
        reply.type(registry.contentType)
        return registry.metrics()
      })
    } catch (error) {
      // e.g. the app already has GET /metrics: fail without leaving metrics in a (global) registry.
      release()
      throw error
    }
  }
}

export const fastifyCacheMetrics = fp(plugin, {
  fastify: '5.x',
  name: '@fastkey/fastify-cache-metrics',
  dependencies: ['@fastkey/fastify-cache'],
})
