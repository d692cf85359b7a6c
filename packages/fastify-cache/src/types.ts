import type { Cache } from './engine/cache.js'
import type { ReplyCachePolicy } from './route/reply-policy.js'
import type { RouteCacheOptions } from './route/route-options.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The cache engine of @fastkey/fastify-cache. */
    cache: Cache
  }
  interface FastifyReply {
    /**
     * What this response's cache entry should be (lifetimes, tags) or that it must not be stored
     * (`{ store: false }`); wins over the response's `cache-control` and the route's options.
     * Ignored when the response is not being cached.
     */
    cachePolicy(policy: ReplyCachePolicy): FastifyReply
  }
  interface FastifyContextConfig {
    /** Cache this route's GET/HEAD responses (`false` = never). */
    cache?: RouteCacheOptions | false
  }
}
