/**
 * `@fastkey/fastify-cache/extension`: the contracts and building blocks for code that plugs into the
 * engine: tag providers (`TagProvider` and the `TagContext` they get), store authors (`CacheStore`,
 * the entry format), and the helpers every fastkey package shares (deadlines, option checks,
 * background tasks, Lua registration, per-tick batching, server detection).
 */
export {
  BackgroundTasks,
  DeadlineError,
  type DurationRule,
  defineScripts,
  describeValue,
  durationProblem,
  integerProblem,
  isPlainObject,
  MAX_TIMER_MS,
  parseReplicationInfo,
  parseServerInfo,
  type ReplicationInfo,
  readServerInfo,
  readTopology,
  type ScriptSource,
  type ServerInfo,
  type Topology,
  topologyOf,
  unknownKeyProblem,
  withDeadline,
} from '@fastkey/support'
export { type CacheEntry, computeEtag, decodeEntry, encodeEntry } from '../engine/entry.js'
export type {
  BypassReason,
  CacheEventName,
  HitTier,
  SkipReason,
  StaleReason,
  StoreOperation,
} from '../engine/events.js'
export type { Freshness } from '../engine/freshness.js'
export { joinKeyParts, normalizeKey } from '../engine/key.js'
export { isStoreTimeout, storeErrors } from '../errors.js'
export type { LookupHook } from '../route/route-options.js'
export type { BusHandlers, CacheStore, LockResult, StoredValue, StoreLocation } from '../stores/types.js'
export { type BatchRun, TickBatch } from '../util/tick-batch.js'
export type {
  SealedEntry,
  SealResult,
  TagBus,
  TagCapture,
  TagContext,
  TagProvider,
  TagVerdict,
} from './tag-provider.js'
