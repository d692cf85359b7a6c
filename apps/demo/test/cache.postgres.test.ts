import { cleanupPrefix, redisUrl } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe } from 'vitest'
import { cacheContract } from './contract/cache.js'
import { CONTRACT_PRODUCTS } from './contract/index.js'
import { openTestDatabase, type TestDatabase } from './helpers/databases.js'

// Real Postgres and Redis ("KeyDB"): apps of one test share a KeyDB namespace, as instances do.
describe('caching on Postgres + KeyDB', () => {
  let handle: TestDatabase | undefined
  let url = ''
  const namespaces: string[] = []
  beforeAll(async () => {
    url = await redisUrl()
    handle = await openTestDatabase('postgres', CONTRACT_PRODUCTS)
  })
  afterAll(async () => {
    await handle?.dispose()
    const client = new Redis(url)
    for (const ns of namespaces) await cleanupPrefix(client, `${ns}:`)
    await client.quit()
  })
  cacheContract(() => handle!.database, {
    options: (scope) => {
      const namespace = `demo-test-${scope}`
      if (!namespaces.includes(namespace)) namespaces.push(namespace)
      return { keydbUrl: url, keyPrefix: namespace }
    },
    shared: true,
  })
})
