import { afterAll, beforeAll, describe } from 'vitest'
import { cacheContract } from './contract/cache.js'
import { CONTRACT_PRODUCTS } from './contract/index.js'
import { openTestDatabase, type TestDatabase } from './helpers/databases.js'

// Embedded defaults: PGlite and the in-process memory store (one per app).
describe('caching on PGlite + memory', () => {
  let handle: TestDatabase | undefined
  beforeAll(async () => {
    handle = await openTestDatabase('pglite', CONTRACT_PRODUCTS)
  })
  afterAll(() => handle?.dispose())
  cacheContract(() => handle!.database, { options: () => ({}), shared: false })
})
