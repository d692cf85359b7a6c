import { type BuildAppOptions, buildApp } from '@fastkey/demo/src/app.js'
import type { FastifyInstance } from 'fastify'

/** Products the bench database is seeded with (the load cycles over the first ids). */
export const DEMO_PRODUCTS = 1_000

export type DemoCache = 'none' | 'keydb' | 'keydb-l1'

/**
 * The demo app on a Postgres of its own, built as its `server.ts` builds it: `cache: { keydbUrl }`
 * (KeyDB, no L1), or with an L1, or without a cache (every read is a query). The admin route is
 * added through `configure` (before the demo's routes).
 */
export async function demoApp(
  databaseUrl: string,
  redisUrl: string,
  prefix: string,
  cache: DemoCache,
  addAdminRoute: (app: FastifyInstance) => void,
  products = DEMO_PRODUCTS,
): Promise<{ app: FastifyInstance }> {
  // Built as a plain object: the `cache` option is the demo's newest, typed only where it exists.
  const options: Record<string, unknown> = {
    database: { url: databaseUrl, seed: { products } },
    configure: (instance: FastifyInstance) => addAdminRoute(instance),
  }
  if (cache !== 'none')
    options.cache = {
      keydbUrl: redisUrl,
      keyPrefix: prefix,
      ...(cache === 'keydb-l1' && { l1: { maxEntries: 10_000 } }),
    }
  const app = await buildApp(options as BuildAppOptions)
  return { app }
}
