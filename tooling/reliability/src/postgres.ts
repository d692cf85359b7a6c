import { randomBytes } from 'node:crypto'
import { databaseUrl } from '@fastkey/test-services'
import postgres from 'postgres'
import type { ScenarioContext } from './scenario.js'

export interface TestDatabase {
  /** URL of the scenario's own database. */
  url: string
  name: string
  /** A client of that database for the app (closed at the end). */
  sql: postgres.Sql
  /**
   * The origin dies: `table` is renamed away (every query on it fails) and the database's open
   * backends are terminated (connections drop; the client reconnects). Only this scenario's database
   * is touched, never the shared server. Refusing connections altogether (`allow_connections false`)
   * is not used: postgres.js then leaves concurrent queries hanging for seconds, which would test the
   * driver, not the cache.
   */
  down(table: string): Promise<void>
  /** The table is back: queries succeed again. */
  up(table: string): Promise<void>
}

/** A database of its own on the local Postgres, dropped when the scenario ends. */
export async function testDatabase(ctx: ScenarioContext): Promise<TestDatabase> {
  const adminUrl = await databaseUrl()
  const name = `rel_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  ctx.defer(() => admin.end({ timeout: 2 }))
  await admin.unsafe(`create database "${name}"`)
  ctx.defer(() => admin.unsafe(`drop database if exists "${name}" with (force)`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const sql = postgres(url.toString(), { max: 4, connect_timeout: 2, onnotice: () => {} })
  ctx.defer(() => sql.end({ timeout: 2 }))
  return {
    url: url.toString(),
    name,
    sql,
    async down(table) {
      await sql.unsafe(`alter table "${table}" rename to "${table}_down"`)
      await admin.unsafe(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [name],
      )
    },
    async up(table) {
      await sql.unsafe(`alter table "${table}_down" rename to "${table}"`)
    },
  }
}
