import KeyvRedis from '@keyv/redis'
import { createCache as createAcd } from 'async-cache-dedupe'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import type { ModeContext } from './modes.js'

/*
 * The libraries a user would pick instead, each set up as its README shows, caching what the handler
 * loads (the item object) for the same TTL. They are data caches: Fastify serializes the value on
 * every request. fastkey stores the serialized response and sends its bytes.
 */

type Params = { Params: { id: string } }

export async function acd(app: FastifyInstance, ctx: ModeContext, storage: 'memory' | 'redis') {
  const client = storage === 'redis' ? new Redis(ctx.redisUrl) : undefined
  const cache = createAcd({
    ttl: Math.round(ctx.ttlMs / 1000),
    storage: client ? { type: 'redis', options: { client } } : { type: 'memory', options: { size: 10_000 } },
  })
  // The define name is the key prefix in Redis (`<name>~<key>`).
  const name = `${ctx.prefix}_item`
  cache.define(name, (id: number) => ctx.origin(id))
  const fetchItem = (cache as unknown as Record<string, (id: number) => Promise<unknown>>)[name]!
  app.get<Params>('/item/:id', (req) => fetchItem(Number(req.params.id)))
  return async () => {
    client?.disconnect()
  }
}

export async function bento(app: FastifyInstance, ctx: ModeContext, layers: 'memory' | 'redis' | 'both') {
  const connection = layers === 'memory' ? undefined : new Redis(ctx.redisUrl)
  let store = bentostore({ prefix: ctx.prefix })
  if (layers !== 'redis') store = store.useL1Layer(memoryDriver({ maxItems: 10_000 }))
  if (connection) store = store.useL2Layer(redisDriver({ connection }))
  if (layers === 'both') {
    const url = new URL(ctx.redisUrl)
    store = store.useBus(
      redisBusDriver({ connection: { host: url.hostname, port: Number(url.port || 6379) } }),
    )
  }
  const cache = new BentoCache({ default: 'bench', stores: { bench: store } })
  app.get<Params>('/item/:id', (req) => {
    const id = Number(req.params.id)
    return cache.getOrSet({ key: `item:${id}`, factory: () => ctx.origin(id), ttl: ctx.ttlMs })
  })
  return async () => {
    await cache.disconnectAll()
    connection?.disconnect()
  }
}

export async function cacheManager(app: FastifyInstance, ctx: ModeContext) {
  const store = new KeyvRedis(ctx.redisUrl, { namespace: ctx.prefix })
  const cache = createCacheManager({ stores: [new Keyv({ store })], ttl: ctx.ttlMs })
  app.get<Params>('/item/:id', (req) => {
    const id = Number(req.params.id)
    return cache.wrap(`item:${id}`, () => ctx.origin(id))
  })
  return async () => {
    await cache.disconnect()
  }
}

/** References: a plain `GET` of the pre-serialized body per request, as a hand-written cache would. */
export async function plainRedis(app: FastifyInstance, ctx: ModeContext, autoPipelining: boolean) {
  const redis = new Redis(ctx.redisUrl, { enableAutoPipelining: autoPipelining })
  const key = (id: number) => `${ctx.prefix}:item:${id}`
  app.get<Params>('/item/:id', async (req, reply) => {
    const id = Number(req.params.id)
    let body = await redis.get(key(id))
    if (body === null) {
      body = JSON.stringify(await ctx.origin(id))
      await redis.set(key(id), body, 'PX', ctx.ttlMs)
    }
    reply.type('application/json')
    return body
  })
  return async () => {
    redis.disconnect()
  }
}
