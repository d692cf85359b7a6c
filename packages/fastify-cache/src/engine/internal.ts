import type { Cache } from './cache.js'
import type { Engine } from './engine.js'

/**
 * The engine behind each `Cache`, for the route adapter and the testing entry of this package. Kept
 * out of the `Cache` class so its public surface is only the user API; not exported by any entry
 * meant for applications.
 */
const engines = new WeakMap<Cache, Engine>()

export function setEngine(cache: Cache, engine: Engine): void {
  engines.set(cache, engine)
}

export function engineOf(cache: Cache): Engine {
  const engine = engines.get(cache)
  if (!engine) throw new TypeError('not a Cache of @fastkey/fastify-cache')
  return engine
}
