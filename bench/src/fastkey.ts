import { createTagProvider, fastifyCacheTags } from '@fastkey/cache-tags'
import { fastifyCache } from '@fastkey/fastify-cache'
import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import type { ModeContext } from './modes.js'

export interface FastkeyVariant {
  l1: boolean
  metrics?: boolean
  tags?: boolean
}

type Params = { Params: { id: string } }

/** What a user writes: fastify-keydb, fastify-cache (+ tags, metrics), `config.cache` on the route. */
export async function fastkey(app: FastifyInstance, ctx: ModeContext, variant: FastkeyVariant) {
  await app.register(fastifyKeydb, { url: ctx.redisUrl })
  await app.register(fastifyCache, {
    namespace: ctx.prefix,
    l1: variant.l1 ? { maxEntries: 10_000 } : false,
    ...(variant.tags && { tags: createTagProvider() }),
  })
  if (variant.tags) await app.register(fastifyCacheTags)
  // A registry of its own, as an app with several instances of the plugin would have.
  if (variant.metrics) await app.register(fastifyCacheMetrics, { registry: new Registry() })
  app.get<Params>(
    '/item/:id',
    {
      config: {
        cache: {
          ttl: ctx.ttlMs,
          ...(ctx.swrMs > 0 && { staleWhileRevalidate: ctx.swrMs }),
          ...(variant.tags && {
            tags: (req) => [`item:${(req.params as { id: string }).id}`, 'items'],
          }),
        },
      },
    },
    (req) => ctx.origin(Number(req.params.id)),
  )
  await app.ready()
  await app.cache.ready()
}
