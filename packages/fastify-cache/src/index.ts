export { BUS_CONFIRM_MS, Cache, type CacheOptions, type CallOptions, type Lookup } from './cache.js'
export { withDeadline } from './deadline.js'
export { type CachedOptions, cached } from './decorator.js'
export { type CacheEntry, computeEtag, decodeEntry, encodeEntry } from './entry.js'
export { type CacheErrorCode, errors } from './errors.js'
export type {
  BypassReason,
  CacheEventName,
  CacheEvents,
  CircuitState,
  HitTier,
  StoreOperation,
} from './events.js'
export { CacheEmitter } from './events.js'
export type { FlightResult, LeaderFill } from './flight.js'
export { joinKeyParts, normalizeKey } from './key.js'
export type { CacheLogger } from './log.js'
export type { CachePolicy, CachePolicyOptions, L1Options, LockOptions } from './options.js'
export { type FastifyCacheOptions, fastifyCache, fastifyCache as default } from './plugin.js'
export { MAX_VARY_VALUE_LENGTH } from './route-key.js'
export type { CompiledRoute, RouteCacheOptions } from './route-options.js'
export { etagMatches } from './route-reply.js'
export { jsonSerializer, type Serializer } from './serializer.js'
export { KeydbStore, type KeydbStoreOptions } from './store/keydb.js'
export { MemoryStore, type MemoryStoreOptions } from './store/memory.js'
export type { BusHandlers, CacheStore, LockResult, StoredValue } from './store/types.js'
export type { SealedEntry, TagCapture, TagProvider, TagVerdict } from './tags.js'
export { type BatchRun, TickBatch } from './tick-batch.js'

import './types.js'
