import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { onTestFinished } from 'vitest'
import { type CacheStore, type FastifyCacheOptions, fastifyCache } from '../src/index.js'

/** A fresh Fastify app with the cache plugin on `store`, closed when the test ends. */
export async function buildApp(
  store: CacheStore,
  options: Omit<FastifyCacheOptions, 'store'> = {},
  routes: (app: FastifyInstance) => void = () => {},
  fastifyOptions: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...fastifyOptions })
  await app.register(fastifyCache, { store, ...options })
  routes(app)
  onTestFinished(() => app.close())
  await app.ready()
  return app
}
