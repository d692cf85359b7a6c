import { buildApp } from '@fastkey/demo/src/app.js'
import type { FastifyInstance } from 'fastify'

/** A server that cannot run yet because what it needs is not built (reported as pending). */
export class PendingError extends Error {}

/** Products the bench database is seeded with (the load cycles over the first ids). */
export const DEMO_PRODUCTS = 1_000

/**
 * The demo app on a Postgres of its own, as `server.ts` builds it, caching wired the demo's way. The
 * admin route is added through `configure` (before the demo's routes).
 */
export async function demoApp(
  databaseUrl: string,
  _redisUrl: string,
  addAdminRoute: (app: FastifyInstance) => void,
): Promise<{ app: FastifyInstance }> {
  const app = await buildApp({
    database: { url: databaseUrl, seed: { products: DEMO_PRODUCTS } },
    configure: (instance) => addAdminRoute(instance),
  })
  return { app }
}
