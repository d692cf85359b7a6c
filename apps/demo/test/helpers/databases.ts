import { randomBytes } from 'node:crypto'
import { databaseUrl } from '@fastkey/test-services'
import postgres from 'postgres'
import { createDatabase, type Database } from '../../src/db/client.js'
import type { SeedResult } from '../../src/db/seed.js'
import { prepareDatabase } from '../../src/db/setup.js'

export type DriverKind = 'pglite' | 'postgres'

export interface TestDatabase {
  database: Database
  seed: SeedResult
  /** Closes the connection; for Postgres also drops the database. */
  dispose(): Promise<void>
}

/** Test files share the server: each one works in a database of its own, dropped afterwards. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = await databaseUrl()
  const name = `demo_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database "${name}"`)
  } finally {
    await admin.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} })
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`)
      } finally {
        await dropper.end()
      }
    },
  }
}

/** A migrated database of the given kind, seeded with `products` products (false: not seeded). */
export async function openTestDatabase(kind: DriverKind, products: number | false): Promise<TestDatabase> {
  const seed = products === false ? false : { products }
  if (kind === 'pglite') {
    const database = await createDatabase()
    return { database, seed: await prepareDatabase(database, { seed }), dispose: () => database.close() }
  }
  const created = await createPostgresDatabase()
  const database = await createDatabase({ url: created.url, poolMax: 4 })
  const dispose = async () => {
    await database.close()
    await created.drop()
  }
  try {
    return { database, seed: await prepareDatabase(database, { seed }), dispose }
  } catch (error) {
    await dispose()
    throw error
  }
}
