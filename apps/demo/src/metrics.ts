import { Counter, collectDefaultMetrics, Registry } from 'prom-client'
import type { Database } from './db/client.js'

/** The first SQL keyword, lower case, as the `statement` label (bounded set, safe for Prometheus). */
const STATEMENTS = new Set(['select', 'insert', 'update', 'delete', 'truncate'])

function statementOf(query: string): string {
  const word = /^\s*(\w+)/.exec(query)?.[1]?.toLowerCase() ?? 'other'
  return STATEMENTS.has(word) ? word : 'other'
}

/** A registry of its own per app, so that tests (and several apps in one process) never collide. */
export function createRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return registry
}

/**
 * Counts every statement the app sends through Drizzle as `demo_db_queries_total{statement}`.
 * Returns the unsubscribe function (called when the app closes).
 */
export function countQueries(registry: Registry, database: Database): () => void {
  const counter = new Counter({
    name: 'demo_db_queries_total',
    help: 'SQL statements sent to the database (BEGIN/COMMIT excluded), by first keyword',
    labelNames: ['statement'] as const,
    registers: [registry],
  })
  return database.onQuery((query) => counter.inc({ statement: statementOf(query) }))
}
