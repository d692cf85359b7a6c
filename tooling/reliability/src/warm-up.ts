import { randomBytes } from 'node:crypto'
import { createTagProvider, fastifyCacheTags } from '@fastkey/cache-tags'
import { fastifyCache } from '@fastkey/fastify-cache'
import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import { cleanupPrefix, redisUrl } from '@fastkey/test-services'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'

/**
 * Builds, exercises and closes one full app before a file's scenarios, unmeasured. The first app of a
 * process pays one-off costs (loading lazily required modules, compiling, JIT) that block the event
 * loop for up to ~150 ms once; they say nothing about behaviour under faults, so no scenario's
 * event-loop figure should include them.
 */
export async function warmUp(): Promise<void> {
  const url = await redisUrl()
  const namespace = `rel-warm-${randomBytes(4).toString('hex')}`
  const app = Fastify({ logger: false })
  try {
    await app.register(fastifyKeydb, { url })
    await app.register(fastifyCache, { keyPrefix: namespace, tags: createTagProvider() })
    await app.register(fastifyCacheTags)
    await app.register(fastifyCacheMetrics, { registry: new Registry() })
    app.get('/w/:id', { config: { cache: { tags: () => ['warm'] } } }, async (req) => req.params)
    // The first schema compiled in a process (ajv's code generation) costs ~70 ms once.
    app.get(
      '/s/:id',
      {
        config: { cache: {} },
        schema: {
          params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]+$' } } },
          querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1 } } },
        },
      },
      async (req) => req.params,
    )
    await app.ready()
    await app.cache.ready()
    for (let i = 0; i < 30; i++) await app.inject(`/w/${i % 3}`)
    await app.inject('/s/1?limit=2')
    await app.inject('/s/x?limit=0')
    await app.cache.invalidateTags(['warm'])
    await app.inject('/metrics')
  } finally {
    await app.close()
    const client = new Redis(url)
    await cleanupPrefix(client, `${namespace}:`).finally(() => client.disconnect())
  }
}
