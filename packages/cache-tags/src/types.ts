import type { TagVersionProvider } from './provider.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The tag provider of `fastify.cache` (from @fastkey/cache-tags' plugin): stats and options. */
    cacheTags: TagVersionProvider
  }
}
