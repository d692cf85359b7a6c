/**
 * `@fastkey/fastify-cache/testing`: what a test suite needs beyond the public API. The store
 * contract suite (run it against your own `CacheStore`, as the built-in stores do) and read-only
 * probes of an engine's state.
 */
import type { Cache } from '../engine/cache.js'
import { engineOf } from '../engine/internal.js'
import { entryOnly } from '../engine/tiers.js'

export { type StoreContractKit, storeContractSuite, type TestApi } from './store-contract.js'

/** Where the entry of `key` stands in the store (L1 not consulted), without side effects on L1. */
export async function inspectEntry(
  cache: Cache,
  key: string,
): Promise<{ freshness: string; ageMs: number; status: number; body: Buffer } | undefined | null> {
  const engine = engineOf(cache)
  const found = entryOnly(await engine.tiers.lookupStore(key, { ...engine.defaults, l1: false }))
  return (
    found && {
      freshness: found.freshness,
      ageMs: found.ageMs,
      status: found.entry.status,
      body: found.entry.body,
    }
  )
}

/** The engine's bus, to wait for its subscription or its messages, or to inject failures into it. */
export function busOf(cache: Cache) {
  return engineOf(cache).bus
}
