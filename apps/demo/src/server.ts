import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { ConfigError, type DemoConfig, parseConfig } from './config.js'
import { createDatabase, type Database, redactUrl } from './db/client.js'
import type { SeedResult } from './db/seed.js'
import { prepareDatabase } from './db/setup.js'

/** In-flight requests get this long to finish after SIGTERM/SIGINT before the process gives up. */
const SHUTDOWN_TIMEOUT_MS = 10_000

/** One line on stderr and exit code 1: what an operator reads when the container restarts. */
function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`)
  process.exit(1)
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function readConfig(): DemoConfig {
  try {
    return parseConfig(process.env)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message)
    throw error
  }
}

async function openDatabase(config: DemoConfig): Promise<{ database: Database; seed: SeedResult }> {
  const database = await createDatabase({ url: config.databaseUrl, pgliteDir: config.pgliteDir })
  try {
    return { database, seed: await prepareDatabase(database, { seed: { products: config.seedProducts } }) }
  } catch (error) {
    await database.close()
    fail(`database ${database.label} is not usable: ${messageOf(error)}`)
  }
}

function describeCache(config: DemoConfig): string {
  return config.keydbUrl ? `keydb ${redactUrl(config.keydbUrl)}` : 'in-memory'
}

function startupLine(config: DemoConfig, database: Database, seed: SeedResult): string {
  const seeded = seed.seeded
    ? `seeded ${seed.products} products in ${seed.categories} categories`
    : 'catalogue already seeded'
  return `demo listening on http://${config.host}:${config.port} | db: ${database.kind} ${database.label} | cache: ${describeCache(config)} | ${seeded}`
}

/** Fastify logs one "Server listening" line per interface; the startup line says it all, once. */
async function listenQuietly(app: FastifyInstance, config: DemoConfig): Promise<void> {
  const level = app.log.level
  if (level === 'info' || level === 'debug' || level === 'trace') app.log.level = 'warn'
  try {
    await app.listen({ port: config.port, host: config.host })
  } finally {
    app.log.level = level
  }
}

/** Stop accepting, let in-flight requests finish (Fastify's close), close the pool, exit 0. */
function handleSignals(app: FastifyInstance): void {
  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    setTimeout(() => {
      app.log.error(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms, exiting`)
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS).unref()
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/**
 * Builds the app; a failure (a KEYDB_URL whose database the server refuses, a bad option) is one line,
 * not a stack trace. buildApp has closed the database by then (closeDatabase: true).
 */
async function startApp(config: DemoConfig, database: Database): Promise<FastifyInstance> {
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace'
  // The plugins' start-up lines at info (fastify-cache names its store) are in the startup line
  // already; warnings still show. Verbose levels keep everything.
  const quiet = config.logLevel === 'info'
  try {
    const app = await buildApp({
      database,
      closeDatabase: true,
      logger: { level: quiet ? 'warn' : config.logLevel },
      requestLogging: verbose,
      cache: { keydbUrl: config.keydbUrl },
    })
    app.log.level = config.logLevel
    return app
  } catch (error) {
    if (verbose) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
    const code = (error as { code?: unknown } | null)?.code
    const what =
      typeof code === 'string' && code.startsWith('FST_KEYDB_') ? 'the cache (KEYDB_URL)' : 'the app'
    fail(`cannot start ${what}: ${messageOf(error)}`)
  }
}

const config = readConfig()
const { database, seed } = await openDatabase(config)
const app = await startApp(config, database)
try {
  await listenQuietly(app, config)
} catch (error) {
  await app.close()
  fail(`cannot listen on ${config.host}:${config.port}: ${messageOf(error)}`)
}
app.log.info(startupLine(config, database, seed))
handleSignals(app)
