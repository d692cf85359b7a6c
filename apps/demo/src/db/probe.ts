import { sql } from 'drizzle-orm'
import type { Db } from './client.js'
import { categories, products } from './schema.js'

/** What `Database.probe()` found; shown as `db` in `GET /health`. */
export interface DatabaseHealth {
  ok: boolean
  /** Time until the answer, the failure or the deadline, in milliseconds. */
  latencyMs: number
  /** Why it failed: the database's message, or the deadline that passed. */
  error?: string
}

/**
 * One row at most from each table the read routes use: a missing, renamed or unreadable table
 * fails it, where `select 1` would only prove that a connection works. Cheap on any catalogue size
 * (`limit 1`, no scan), and one statement.
 */
export const PROBE_QUERY = sql`select (select 1 from ${products} limit 1) as product, (select 1 from ${categories} limit 1) as category`

const MAX_ERROR_CHARS = 200

/** Drizzle wraps a failed statement ("Failed query: <sql> params: ..."): the cause says what went wrong. */
function reason(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause
  const message =
    cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error)
  return message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS - 3)}...` : message
}

/**
 * Runs the probe within `timeoutMs`. Never throws. On Postgres the statement also carries that
 * deadline (`SET LOCAL statement_timeout`), so that a probe stuck on a lock is cancelled by the
 * server rather than left holding a pool connection; PGlite runs in-process, one statement at a
 * time, and only gets the deadline here.
 */
export async function probeDatabase(
  orm: Db,
  kind: 'postgres' | 'pglite',
  timeoutMs: number,
): Promise<DatabaseHealth> {
  const started = performance.now()
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<DatabaseHealth>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, latencyMs: elapsed(), error: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    )
  })
  const run =
    kind === 'postgres'
      ? orm.transaction(async (tx) => {
          await tx.execute(sql.raw(`set local statement_timeout = ${Math.max(1, Math.ceil(timeoutMs))}`))
          await tx.execute(PROBE_QUERY)
        })
      : orm.execute(PROBE_QUERY)
  const probe = run.then(
    (): DatabaseHealth => ({ ok: true, latencyMs: elapsed() }),
    (error: unknown): DatabaseHealth => ({ ok: false, latencyMs: elapsed(), error: reason(error) }),
  )
  try {
    return await Promise.race([probe, deadline])
  } finally {
    clearTimeout(timer)
  }
}
