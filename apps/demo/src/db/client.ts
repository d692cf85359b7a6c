import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import type { Logger } from 'drizzle-orm/logger'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { type DatabaseHealth, probeDatabase } from './probe.js'
import * as schema from './schema.js'

/** The Drizzle database every query goes through: the same type for postgres.js and PGlite. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

/** Called with the SQL text of every statement Drizzle sends (before it is sent). */
export type QueryListener = (query: string) => void

export interface DatabaseOptions {
  /** postgres:// URL; when set, postgres.js is used. @default undefined (embedded PGlite) */
  url?: string | undefined
  /** PGlite data directory when `url` is unset. @default undefined (in-memory) */
  pgliteDir?: string | undefined
  /** postgres.js pool size (connections). @default 10 */
  poolMax?: number
}

/** An open database: the Drizzle handle plus what the app needs around it. */
export interface Database {
  readonly orm: Db
  readonly kind: 'postgres' | 'pglite'
  /** Where it lives, safe to log: URL without password, PGlite data dir, or `in-memory`. */
  readonly label: string
  /**
   * Subscribes to every statement sent through `orm` (transaction control statements excluded).
   * A listener that throws makes that statement fail, which tests use to inject faults.
   * Returns the unsubscribe function.
   */
  onQuery(listener: QueryListener): () => void
  /** Applies the committed drizzle/ migrations (idempotent). */
  migrate(): Promise<void>
  /**
   * Runs `fn` while holding a database-wide lock (a Postgres advisory lock), so that several
   * instances starting together migrate and seed once. PGlite is single-process: `fn` just runs.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>
  /**
   * Reads the tables the routes use (one row at most from each) within `timeoutMs`: `ok: false`
   * with the reason on error or timeout, never throws. See `probeDatabase`.
   */
  probe(timeoutMs: number): Promise<DatabaseHealth>
  /** Closes the pool or the PGlite instance. Idempotent. */
  close(): Promise<void>
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url))
const DEFAULT_POOL_MAX = 10
// Arbitrary constant shared by every demo instance: the key of the startup advisory lock.
const STARTUP_LOCK_KEY = 424_242

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '<unparsable url>'
  }
}

function listenerSet() {
  const listeners = new Set<QueryListener>()
  const logger: Logger = {
    logQuery(query) {
      for (const listener of listeners) listener(query)
    },
  }
  const onQuery = (listener: QueryListener) => {
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
    }
  }
  return { logger, onQuery }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined
  return () => {
    closing ??= fn()
    return closing
  }
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const client = postgres(url, {
    max: options.poolMax ?? DEFAULT_POOL_MAX,
    connect_timeout: 5,
    // Migrations emit NOTICEs ("schema drizzle already exists, skipping"); they are not news.
    onnotice: () => {},
  })
  const { logger, onQuery } = listenerSet()
  const orm = drizzlePostgres({ client, schema, logger })
  return {
    orm,
    kind: 'postgres',
    label: redactUrl(url),
    onQuery,
    migrate: () => migratePostgres(orm, { migrationsFolder: MIGRATIONS_FOLDER }),
    async exclusive(fn) {
      // A session-level lock needs one connection for lock and unlock; the work itself may run on
      // any pooled connection, other instances wait on pg_advisory_lock meanwhile.
      const reserved = await client.reserve()
      try {
        await reserved`select pg_advisory_lock(${STARTUP_LOCK_KEY})`
        try {
          return await fn()
        } finally {
          await reserved`select pg_advisory_unlock(${STARTUP_LOCK_KEY})`
        }
      } finally {
        reserved.release()
      }
    },
    probe: (timeoutMs) => probeDatabase(orm, 'postgres', timeoutMs),
    close: once(() => client.end({ timeout: 5 })),
  }
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  const client = await PGlite.create(dataDir === undefined ? {} : { dataDir })
  const { logger, onQuery } = listenerSet()
  const orm = drizzlePglite({ client, schema, logger })
  return {
    orm,
    kind: 'pglite',
    label: dataDir ?? 'in-memory',
    onQuery,
    migrate: () => migratePglite(orm, { migrationsFolder: MIGRATIONS_FOLDER }),
    exclusive: (fn) => fn(),
    probe: (timeoutMs) => probeDatabase(orm, 'pglite', timeoutMs),
    close: once(() => client.close()),
  }
}

/**
 * Opens postgres.js when `url` is set, else an embedded PGlite (in memory, or in `pgliteDir`).
 * postgres.js connects lazily: a wrong URL surfaces at the first query (`migrate()` or `probe()`).
 */
export function createDatabase(options: DatabaseOptions = {}): Promise<Database> {
  return options.url ? openPostgres(options.url, options) : openPglite(options.pgliteDir)
}
