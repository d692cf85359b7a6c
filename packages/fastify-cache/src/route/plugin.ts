import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { Cache } from '../engine/cache.js'
import { engineOf } from '../engine/internal.js'
import { type CachedRoute, cachedRoute } from './cached-route.js'
import { RouteControl } from './control.js'
import { cacheLookup, cacheOnSend, cachePreSerialization, kCacheState, replyCachePolicy } from './hooks.js'
import {
  type FastifyCacheOptions,
  type ResolvedPluginOptions,
  resolvePluginOptions,
} from './plugin-options.js'
import { RouteRefresher } from './refresh.js'
import { KeyMemos } from './route-key.js'
import { compileRoute, type RouteCacheOptions, type RouteDefaults } from './route-options.js'
import {
  checkDecoratorFree,
  logChosenStore,
  routesDeclaredSoFar,
  warnEarlyRoutes,
  warnUnseenKeydb,
} from './startup-notices.js'
import { chooseStore } from './store-choice.js'
import '../types.js'

/** The engine the plugin uses: the one passed in, or a new one on the chosen store (owned: closed on close). */
function createEngine(
  fastify: FastifyInstance,
  options: ResolvedPluginOptions,
): { cache: Cache; owned: boolean } {
  if ('given' in options.engine) return { cache: options.engine.given, owned: false }
  const store = options.engine.options.store ?? chooseStore(fastify, options)
  try {
    return { cache: new Cache({ ...options.engine.options, ...(store && { store }) }), owned: true }
  } catch (error) {
    void store?.close()
    throw error
  }
}

function routeDefaults(cache: Cache, options: ResolvedPluginOptions, encodesFirst: boolean): RouteDefaults {
  const provider = cache.tagProvider
  const name = options.tagsHeader
  return {
    policy: engineOf(cache).defaults,
    cacheControl: options.cacheControl,
    tagProvider: provider !== undefined,
    hook: options.hook,
    keyOnEncoding: encodesFirst,
    tagsHeader:
      name === undefined || !provider?.names
        ? undefined
        : {
            name,
            // Cloudflare's cache-tag lists tags with commas, Fastly's and Akamai's with spaces.
            separator: name === 'cache-tag' ? ',' : ' ',
            names: (recorded: string) => provider.names!(recorded),
          },
  }
}

/** Adds the cache hooks to one route (new arrays: Fastify copies route options for the HEAD twin). */
function addHooks(route: RouteOptions, cached: CachedRoute): void {
  const lookup = cacheLookup.bind(undefined, cached)
  if (cached.compiled.hook === 'preHandler')
    route.preHandler = [...toArray(route.preHandler), lookup] as never
  else route.onRequest = [...toArray(route.onRequest), lookup] as never
  route.preSerialization = [...toArray(route.preSerialization), cachePreSerialization] as never
  route.onSend = [...toArray(route.onSend), cacheOnSend] as never
}

const plugin: FastifyPluginAsync<FastifyCacheOptions> = async (fastify, rawOptions) => {
  checkDecoratorFree(fastify, (value) => value instanceof Cache)
  const options = resolvePluginOptions(rawOptions, fastify.log)
  const earlyRoutes = routesDeclaredSoFar(fastify)
  const { cache, owned } = createEngine(fastify, options)
  logChosenStore(fastify, cache, options)
  const engine = engineOf(cache)
  fastify.decorate('cache', cache)
  fastify.decorateRequest(kCacheState, null)
  fastify.decorateReply('cachePolicy', replyCachePolicy)

  const refresher = new RouteRefresher(fastify)
  const control = new RouteControl(fastify)
  engine.routes.add(control)
  // @fastify/compress decorates the reply: present now, it was registered first (its hooks run first).
  const defaults = routeDefaults(cache, options, fastify.hasReplyDecorator('compress'))
  const routeErrors: Error[] = []
  const keyMemos = new KeyMemos()
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config as { cache?: RouteCacheOptions | false } | undefined)?.cache
    if (config === undefined || config === false) return
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    try {
      const cached = cachedRoute(
        compileRoute(config, methods, route.url, defaults),
        engine,
        refresher,
        control,
        keyMemos,
      )
      addHooks(route, cached)
      if (methods.includes('GET')) control.add(route.url, cached)
    } catch (error) {
      // Reported by ready(), so a bad config fails startup wherever the route was declared.
      routeErrors.push(error as Error)
    }
  })

  fastify.addHook('onReady', async () => {
    if (routeErrors.length > 0) throw routeErrors[0]
    warnUnseenKeydb(fastify, cache, options)
    warnEarlyRoutes(fastify, earlyRoutes)
  })

  fastify.addHook('onClose', async () => {
    engine.routes.delete(control)
    // Background refreshes run through inject(): let them finish before the store goes away.
    if (owned) {
      await cache.close()
      await cache.store.close()
    } else {
      // A shared engine stays open: wait for this app's work, bounded as the engine's own close.
      await engine.background.drainWithin(engine.closeTimeoutMs)
    }
  })
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

export const fastifyCache = fp(plugin, {
  fastify: '5.x',
  name: '@fastkey/fastify-cache',
})

export type { FastifyCacheOptions }
