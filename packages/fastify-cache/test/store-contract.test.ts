import { describe, expect, it } from 'vitest'
import { storeContractSuite } from '../src/testing/index.js'
import { storeKits } from './helpers.js'

// The suite published as `@fastkey/fastify-cache/testing`, run against every built-in store.
for (const kit of storeKits('store contract'))
  storeContractSuite(
    { name: kit.name, make: async () => (await kit.make()).store, twin: kit.twin },
    { describe, it, expect },
  )
