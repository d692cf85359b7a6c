// Types only (erased): brings fastify-cache's `fastify.cache` declaration into the build.
import type {} from '@fastkey/fastify-cache'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from './errors.js'
import { TagVersionProvider } from './provider.js'
import './types.js'

/** The plugin takes no options: the provider's options go to `createTagProvider()`. */
export type FastifyCacheTagsOptions = Record<never, never>

/**
 * Checks that `fastify.cache` runs with a @fastkey/cache-tags provider (created with
 * `createTagProvider()` and passed as `tags` to fastifyCache: the engine needs it from construction)
 * and exposes it as `fastify.cacheTags`; `ready()` waits for the provider's start-up detection. Register
 * it after @fastkey/fastify-cache.
 */
const plugin: FastifyPluginAsync<FastifyCacheTagsOptions> = async (fastify, options) => {
  const keys = Object.keys(options ?? {})
  if (keys.length > 0)
    throw new errors.FST_CACHE_TAGS_INVALID_OPTION(
      `${keys[0]}: the plugin takes no options, pass them to createTagProvider()`,
    )
  if (fastify.hasDecorator('cacheTags')) return
  const provider = fastify.cache.tagProvider
  if (!(provider instanceof TagVersionProvider)) throw new errors.FST_CACHE_TAGS_NO_PROVIDER()
  fastify.decorate('cacheTags', provider)
  // Ready once the provider knows the topology (the default clockSkewMs) and the invalidation mark
  // exists; bounded by its commandTimeoutMs, never a failure.
  fastify.addHook('onReady', () => provider.ready())
}

export const fastifyCacheTags = fp(plugin, {
  fastify: '5.x',
  name: '@fastkey/cache-tags',
  dependencies: ['@fastkey/fastify-cache'],
})
