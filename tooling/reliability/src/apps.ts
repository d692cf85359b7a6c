import { randomBytes } from 'node:crypto'
import { createTagProvider, fastifyCacheTags, type TagProviderOptions } from '@fastkey/cache-tags'
import {
  Cache,
  type CacheOptions,
  type FastifyCacheOptions,
  fastifyCache,
  KeydbStore,
} from '@fastkey/fastify-cache'
import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
import { type FastifyKeydbOptions, failFastRedisOptions, fastifyKeydb } from '@fastkey/fastify-keydb'
import { cleanupPrefix, redisUrl } from '@fastkey/test-services'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import type { ScenarioContext } from './scenario.js'

/**
 * Short deadlines keep the scenarios fast; they are what a user tuning for fast failover would set.
 * The breaker opens after 3 consecutive failures and probes again after 250 ms.
 */
export const FAST = Object.freeze({
  commandTimeoutMs: 150,
  breaker: Object.freeze({ failureThreshold: 3, cooldownMs: 250 }),
})

export interface AppOptions {
  /** fastify-keydb options (`{ url }`, `{ cluster }`); `false` = in-memory store. */
  keydb: FastifyKeydbOptions | false
  /** fastify-cache options; `FAST` deadlines and breaker unless given. */
  cache?: FastifyCacheOptions
  /** Adds a @fastkey/cache-tags provider (and the plugin). */
  tags?: TagProviderOptions | true
  /** Adds @fastkey/fastify-cache-metrics on a registry of its own (`app.cacheMetrics.registry`). */
  metrics?: boolean
  fastify?: FastifyServerOptions
  routes?: (app: FastifyInstance) => void
  /**
   * Wait (up to 2 s) until the bus subscription is confirmed, so scenarios start from a settled app.
   * `false` for the boot scenarios: a user's app does not wait for it. @default true
   */
  waitForBus?: boolean
}

/**
 * An app as a user would assemble it: Fastify, @fastkey/fastify-keydb, @fastkey/fastify-cache (and
 * cache-tags and metrics when asked), the routes, `ready()`, and the bus subscribed. Closed when the
 * scenario ends.
 */
export async function buildApp(ctx: ScenarioContext, options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...options.fastify })
  ctx.defer(() => app.close())
  if (options.keydb) await app.register(fastifyKeydb, options.keydb)
  const tags = options.tags ? createTagProvider(options.tags === true ? {} : options.tags) : undefined
  await app.register(fastifyCache, {
    ...(options.keydb === false && { keydb: false }),
    // A store passed in carries its own deadline (the plugin refuses both).
    ...(options.cache?.store === undefined && { commandTimeoutMs: FAST.commandTimeoutMs }),
    breaker: FAST.breaker,
    ...(tags && { tags }),
    ...options.cache,
  })
  if (tags) await app.register(fastifyCacheTags)
  if (options.metrics) await app.register(fastifyCacheMetrics, { registry: new Registry() })
  options.routes?.(app)
  await app.ready()
  if (options.waitForBus !== false) await app.cache.ready()
  return app
}

/**
 * A namespace no other test uses (fastify-cache accepts `[A-Za-z0-9_.-]{1,64}`), removed at the end
 * together with the namespaces scenarios derive from it (`<namespace>-r`, `<namespace>-svc`): the
 * random part makes `<namespace>*` ours alone.
 */
export async function sharedRedisNamespace(
  ctx: ScenarioContext,
  label: string,
): Promise<{ url: string; namespace: string }> {
  const url = await redisUrl()
  const namespace = `rel-${label}-${randomBytes(5).toString('hex')}`
  ctx.defer(async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await client.connect()
      await cleanupPrefix(client, namespace)
    } finally {
      client.disconnect()
    }
  })
  return { url, namespace }
}

/** A plain admin connection (CONFIG SET, CLIENT KILL, raw keys), closed at the end. */
export async function adminClient(ctx: ScenarioContext, url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false })
  client.on('error', () => {})
  await client.connect()
  ctx.defer(() => client.disconnect())
  return client
}

/** An ioredis client with fastify-keydb's fail-fast options (what the plugin would create), closed at the end. */
export async function failFastClient(ctx: ScenarioContext, url: string): Promise<Redis> {
  const client = new Redis(url, { ...failFastRedisOptions(), lazyConnect: true })
  client.on('error', () => {})
  await client.connect()
  ctx.defer(() => client.disconnect())
  return client
}

/** A framework-free engine on KeyDB (one "instance"), with the `FAST` deadline and breaker; closed at the end. */
export function keydbEngine(
  ctx: ScenarioContext,
  client: Redis,
  namespace: string,
  options: Omit<CacheOptions, 'store'> = {},
): Cache {
  const store = new KeydbStore({ client, keyPrefix: namespace, commandTimeoutMs: FAST.commandTimeoutMs })
  const cache = new Cache({ store, breaker: FAST.breaker, ...options })
  ctx.defer(async () => {
    await cache.close()
    await store.close()
  })
  return cache
}

/** Keys of the namespace matching `kind` (`e` entries, `l` locks, `g` generations), by SCAN. */
export async function namespaceKeys(
  client: Redis,
  namespace: string,
  kind: 'e' | 'l' | 'g' | 't',
): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${namespace}:${kind}:*`, 'COUNT', 1000)
    cursor = next
    found.push(...keys)
  } while (cursor !== '0')
  return found
}
