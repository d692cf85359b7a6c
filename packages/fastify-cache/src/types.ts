import type { Cache } from './cache.js'
import type { RouteCacheOptions } from './route-options.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The cache engine of @fastkey/fastify-cache. */
    cache: Cache
  }
  interface FastifyContextConfig {
    /** Cache this route's GET/HEAD responses (`false` = never). */
    cache?: RouteCacheOptions | false
  }
}
