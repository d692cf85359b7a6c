/**
 * `@fastkey/fastify-cache`: the cache engine (`Cache`, usable outside Fastify), the Fastify plugin
 * with per-route `config.cache`, and the stores. Tag providers and store authors use
 * `@fastkey/fastify-cache/extension`; test suites use `@fastkey/fastify-cache/testing`.
 */
export { Cache } from './engine/cache.js'
export { type CachedOptions, cached } from './engine/decorator.js'
export type { CacheEvents, CircuitState } from './engine/events.js'
export type { CacheLogger } from './engine/log.js'
export type { BreakerOptions, CacheOptions, CallOptions, L1Options } from './engine/options.js'
export type { CachePolicyOptions, LockOptions } from './engine/policy.js'
export type { RouteRequestOptions, RouteRequestResult } from './engine/route-entries.js'
export { jsonSerializer, type Serializer } from './engine/serializer.js'
export { type CacheErrorCode, errors } from './errors.js'
export type { TagProvider } from './extension/tag-provider.js'
export { type FastifyCacheOptions, fastifyCache, fastifyCache as default } from './route/plugin.js'
export type { ReplyCachePolicy } from './route/reply-policy.js'
export type { RouteCacheOptions } from './route/route-options.js'
export { KeydbStore } from './stores/keydb.js'
export type { KeydbStoreOptions } from './stores/keydb-options.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export type { CacheStore } from './stores/types.js'

import './types.js'
