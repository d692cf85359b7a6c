import { afterAll, beforeAll, describe } from 'vitest'
import type { Database } from '../../src/db/client.js'
import { type DriverKind, openTestDatabase, type TestDatabase } from '../helpers/databases.js'
import { healthContract } from './health.js'
import { readContract } from './reads.js'
import { writeContract } from './writes.js'

/** Products seeded for the contract: about 15 per category, several pages at small limits. */
export const CONTRACT_PRODUCTS = 300

/**
 * The same route suite for every driver (one database per test file, a fresh app per test), so
 * PGlite and Postgres cannot drift apart.
 */
export function catalogueContract(kind: DriverKind): void {
  describe(`catalogue routes on ${kind}`, () => {
    let handle: TestDatabase | undefined
    beforeAll(async () => {
      handle = await openTestDatabase(kind, CONTRACT_PRODUCTS)
    })
    afterAll(() => handle?.dispose())
    const database = (): Database => {
      if (!handle) throw new Error('database not ready')
      return handle.database
    }
    healthContract(database)
    readContract(database)
    writeContract(database)
  })
}
