import type { Database } from './client.js'
import { reseed, type SeedOptions, type SeedResult, seedIfEmpty } from './seed.js'

export interface PrepareOptions {
  /** Seed an empty catalogue (`false`: only migrate). @default {} (10,000 products) */
  seed?: SeedOptions | false
  /** Empty the catalogue and seed it again even when it has rows. @default false */
  reset?: boolean
}

const NOT_SEEDED: SeedResult = { seeded: false, categories: 0, products: 0 }

/**
 * Migrates, then seeds when the catalogue is empty (or always, with `reset`), under the startup
 * lock so that several instances starting at once on one Postgres do this exactly once.
 */
export function prepareDatabase(database: Database, options: PrepareOptions = {}): Promise<SeedResult> {
  const seed = options.seed ?? {}
  return database.exclusive(async () => {
    await database.migrate()
    if (seed === false) return NOT_SEEDED
    return options.reset ? reseed(database.orm, seed) : seedIfEmpty(database.orm, seed)
  })
}
