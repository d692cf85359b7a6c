import type { Registry } from 'prom-client'

/** What the plugin decorates the app with. */
export interface CacheMetrics {
  /** The registry holding the cache metrics (serve it yourself with `exposeRoute: false`). */
  readonly registry: Registry
  /** Full names of the plugin's metrics (prefix included). */
  readonly names: readonly string[]
  /** Path of the metrics route, `undefined` when the plugin serves none. */
  readonly path: string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The metrics of @fastkey/fastify-cache-metrics. */
    cacheMetrics: CacheMetrics
  }
}
