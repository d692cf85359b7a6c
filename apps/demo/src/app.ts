import { Ajv, type Options as AjvOptions } from 'ajv'
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import type { Registry } from 'prom-client'
import { cacheHealthOf, type DemoCacheOptions, invalidateOnWrite, registerCache } from './cache.js'
import { createDatabase, type Database, type DatabaseOptions } from './db/client.js'
import type { SeedOptions } from './db/seed.js'
import { prepareDatabase } from './db/setup.js'
import { installErrorHandlers } from './error-handler.js'
import { countQueries, createRegistry } from './metrics.js'
import { categoryRoutes } from './routes/categories.js'
import { healthRoutes } from './routes/health.js'
import { metricsRoutes } from './routes/metrics.js'
import { productWriteRoutes } from './routes/product-writes.js'
import { productReadRoutes } from './routes/products.js'
import {
  CachedFeaturedProducts,
  FeaturedProducts,
  type FeaturedProductsSource,
} from './services/featured-products.js'
import type { CacheHealthCheck, ProductWriteHook } from './types.js'

/** How buildApp opens a database of its own (migrated; seeded only when asked). */
export interface OpenDatabaseOptions extends DatabaseOptions {
  /** Seed the catalogue when it is empty. @default false */
  seed?: SeedOptions | false
}

export interface BuildAppOptions {
  /**
   * An open database (from `createDatabase`, already migrated), or how to open one. An opened one
   * is migrated and closed with the app.
   * @default {} (in-memory PGlite, migrated, empty)
   */
  database?: Database | OpenDatabaseOptions
  /** Close the database on `app.close()`. @default true when buildApp opened it, else false */
  closeDatabase?: boolean
  /** Fastify logger option. @default false */
  logger?: FastifyServerOptions['logger']
  /** Log every request (costly under load). @default false */
  requestLogging?: boolean
  /** Probe shown as `cache` in `GET /health`. @default () => ({ ok: true, latencyMs: 0 }) */
  cacheHealth?: CacheHealthCheck
  /** Awaited after each committed product write, before the response. @default no-op */
  onProductWrite?: ProductWriteHook
  /**
   * prom-client registry for `GET /metrics`; must not hold `demo_db_queries_total` yet (one app
   * per registry). A given registry gets no default metrics from buildApp.
   * @default a new Registry with collectDefaultMetrics
   */
  registry?: Registry
  /** The service behind `GET /products/featured`. @default new FeaturedProducts(database.orm) */
  featuredProducts?: FeaturedProductsSource
  /**
   * Runs after the decorators (`database`, `metricsRegistry`, `featuredProducts`) and the cache, and
   * before the routes are registered: the place for plugins whose `onRoute` hooks must see the routes.
   */
  configure?: (app: FastifyInstance) => void | Promise<void>
  /**
   * Cache the read routes with fastkey (KeyDB when `keydbUrl` is set, else in memory), invalidate
   * by tag after writes, report cache health and metrics. `false`: no cache (every read hits the db).
   * When set, `cacheHealth` and `onProductWrite` default to the cache's.
   * @default false
   */
  cache?: DemoCacheOptions | false
  /** Deadline of each `GET /health` probe, in milliseconds. @default 1000 */
  healthTimeoutMs?: number
}

const DEFAULT_HEALTH_TIMEOUT_MS = 1_000
const cacheAlwaysOk: CacheHealthCheck = () => ({ ok: true, latencyMs: 0 })

/*
 * Fastify's ajv coerces types everywhere: right for params and query strings (all text), wrong for
 * JSON bodies, where `"price": 19.99` (a float) or `"stock": "5"` must be a 400, not silently
 * converted. Bodies get a non-coercing instance. Unknown properties are rejected, never stripped.
 * Module-level instances: ajv caches compiled validators per schema object, so every app built in
 * this process (tests build dozens) reuses them instead of compiling the same schemas again.
 */
const ajvCommon: AjvOptions = { useDefaults: true, removeAdditional: false, allErrors: false }
const coercingAjv = new Ajv({ ...ajvCommon, coerceTypes: 'array' })
const strictAjv = new Ajv({ ...ajvCommon, coerceTypes: false })

function installValidators(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema),
  )
}

async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { seed = false, ...connection } = options
  const database = await createDatabase(connection)
  try {
    await prepareDatabase(database, { seed })
  } catch (error) {
    await database.close()
    throw error
  }
  return database
}

function isDatabase(value: Database | OpenDatabaseOptions): value is Database {
  return 'orm' in value
}

/** Builds the demo app (routes, metrics, hooks) without listening. Close it with `app.close()`. */
export async function buildApp(options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const given = options.database ?? {}
  const owned = !isDatabase(given)
  const database = isDatabase(given) ? given : await openDatabase(given)
  const closeDatabase = options.closeDatabase ?? owned
  const registry = options.registry ?? createRegistry()

  const app = Fastify({
    logger: options.logger ?? false,
    logController: new LogController({ disableRequestLogging: !options.requestLogging }),
  })
  installValidators(app)
  installErrorHandlers(app)
  app.decorate('database', database)
  app.decorate('metricsRegistry', registry)
  const stopCounting = countQueries(registry, database)
  app.addHook('onClose', async () => {
    stopCounting()
    if (closeDatabase) await database.close()
  })

  try {
    const cached = options.cache !== undefined && options.cache !== false
    if (cached) await registerCache(app, options.cache as DemoCacheOptions)
    app.decorate(
      'featuredProducts',
      options.featuredProducts ??
        (cached ? new CachedFeaturedProducts(database.orm, app.cache) : new FeaturedProducts(database.orm)),
    )
    await options.configure?.(app)
    await app.register(healthRoutes, {
      cacheHealth: options.cacheHealth ?? (cached ? cacheHealthOf(app) : cacheAlwaysOk),
      timeoutMs: options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
    })
    await app.register(productReadRoutes)
    await app.register(productWriteRoutes, {
      onProductWrite: options.onProductWrite ?? (cached ? invalidateOnWrite(app) : () => {}),
    })
    await app.register(categoryRoutes)
    await app.register(metricsRoutes)
  } catch (error) {
    // A failing plugin must not leak the database buildApp opened (onClose closes it).
    await app.close()
    throw error
  }
  return app
}
