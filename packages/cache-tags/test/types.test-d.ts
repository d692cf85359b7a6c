import { fastifyCache, type TagProvider } from '@fastkey/fastify-cache'
import Fastify from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { createTagProvider, fastifyCacheTags, type TagVersionProvider } from '../src/index.js'

describe('types', () => {
  it('the provider is a TagProvider, and the plugin decorates fastify.cacheTags', async () => {
    const tags = createTagProvider({ versionTtlMs: 500, clockSkewMs: 0 })
    expectTypeOf(tags).toExtend<TagProvider>()
    const app = Fastify()
    await app.register(fastifyCache, { tags, tagsHeader: 'surrogate-key' })
    await app.register(fastifyCacheTags)
    expectTypeOf(app.cacheTags).toEqualTypeOf<TagVersionProvider>()
    expectTypeOf(app.cacheTags.stats.raced).toBeNumber()
    // @ts-expect-error a typo in a provider option does not compile
    createTagProvider({ versionTTL: 500 })
  })
})
