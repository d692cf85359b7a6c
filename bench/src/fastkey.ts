import { createTagProvider, fastifyCacheTags } from '@fastkey/cache-tags'
import { fastifyCache } from '@fastkey/fastify-cache'
import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { EXTRA_HEADERS } from './item.js'
import type { ModeContext } from './modes.js'

export interface FastkeyVariant {
  l1: boolean
  metrics?: boolean
  tags?: boolean
  /** The handler sets the five EXTRA_HEADERS: stored with the entry, replayed on every hit. */
  headers?: boolean
  /** KeyDB is the 3-master cluster of `ctx.clusterNodes`. */
  cluster?: boolean
}

function clusterNodes(ctx: ModeContext) {
  if (!ctx.clusterNodes) throw new Error('a cluster mode needs --cluster host:port,…')
  return ctx.clusterNodes.split(',').map((node) => {
    const [host, port] = node.split(':')
    return { host: host!, port: Number(port) }
  })
}

type Params = { Params: { id: string } }

/** What a user writes: fastify-keydb, fastify-cache (+ tags, metrics), `config.cache` on the route. */
export async function fastkey(app: FastifyInstance, ctx: ModeContext, variant: FastkeyVariant) {
  await app.register(
    fastifyKeydb,
    variant.cluster ? { cluster: { nodes: clusterNodes(ctx) } } : { url: ctx.redisUrl },
  )
  await app.register(fastifyCache, {
    keyPrefix: ctx.prefix,
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
          ttlMs: ctx.ttlMs,
          ...(ctx.swrMs > 0 && { staleWhileRevalidateMs: ctx.swrMs }),
          ...(variant.tags && {
            tags: (req) => [`item:${(req.params as { id: string }).id}`, 'items'],
          }),
        },
      },
    },
    variant.headers
      ? (req, reply) => {
          for (const [name, value] of EXTRA_HEADERS) reply.header(name, value)
          return ctx.origin(Number(req.params.id))
        }
      : (req) => ctx.origin(Number(req.params.id)),
  )
  await app.ready()
  await app.cache.ready()
}
