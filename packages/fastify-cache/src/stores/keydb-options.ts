import type { Cluster, Redis } from 'ioredis'
import { describeValue, duration, invalidOption, objectOf, rejectUnknownKeys } from '../engine/validate.js'

type Client = Redis | Cluster

export interface KeydbStoreOptions {
  /** An ioredis `Redis` or `Cluster` (e.g. `fastify.keydb`). Never closed by the store. */
  client: Client
  /** Prefix of every key the store writes (`<keyPrefix>:e:{key}`, ...). @default 'fk' */
  keyPrefix?: string
  /**
   * Deadline of every store call, ms. A call that has not answered by then fails and the engine goes
   * to the origin: a slow or frozen KeyDB never holds a request longer than this. @default 200
   */
  commandTimeoutMs?: number
  /**
   * Connection used for the bus (pub/sub needs a dedicated one): a client, or a function returning
   * one (e.g. `() => fastify.keydb.subscriber()`). Without it the store duplicates `client` and closes
   * the duplicate on `close()`.
   */
  subscriber?: Client | (() => Client)
  /**
   * How long a key's generation outlives a delete, ms: fills whose load started before the delete are
   * refused for this long, so a loader must not run longer. @default 3_600_000 (1 h)
   */
  generationTtlMs?: number
  /**
   * How long an invalidation waits for the replicas of the master(s) it wrote to (`WAIT`; a KeyDB
   * active replica counts as one), ms. Past it the invalidation is not confirmed: it is kept and
   * replayed (FST_CACHE_INVALIDATION_PENDING), so an instance reading a replica or the other master
   * is never told "done" while it can still read the old entry. 0: no wait (the window is then the
   * replication lag). A master without replicas costs one `INFO replication` and no wait. @default 100
   */
  replicaAckMs?: number
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 200
export const DEFAULT_GENERATION_TTL_MS = 3_600_000
export const DEFAULT_REPLICA_ACK_MS = 100
/** Prefixes are part of every key and of the bus channel: a short, plain word. */
export const KEY_PREFIX = /^[\w.:-]{1,64}$/

const KEYS = ['client', 'keyPrefix', 'commandTimeoutMs', 'subscriber', 'generationTtlMs', 'replicaAckMs']

export interface ResolvedKeydbStoreOptions {
  client: Client
  keyPrefix: string
  commandTimeoutMs: number
  subscriber: KeydbStoreOptions['subscriber']
  generationTtlMs: number
  replicaAckMs: number
}

function isClient(value: unknown): value is Client {
  const c = value as Record<string, unknown> | null
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.defineCommand === 'function' &&
    typeof c.duplicate === 'function' &&
    typeof c.publish === 'function'
  )
}

/** Checks every option of `new KeydbStore()` before anything is created (FST_CACHE_INVALID_OPTION). */
export function resolveKeydbStoreOptions(input: unknown): ResolvedKeydbStoreOptions {
  const fail = (what: string) => invalidOption(`KeydbStore ${what}`)
  const options = objectOf(input, 'options', fail)
  rejectUnknownKeys(options, KEYS, fail)
  if (!isClient(options.client))
    throw fail(`client: expected an ioredis Redis or Cluster, got ${describeValue(options.client)}`)
  const keyPrefix = options.keyPrefix ?? 'fk'
  if (typeof keyPrefix !== 'string' || !KEY_PREFIX.test(keyPrefix))
    throw fail(`keyPrefix: expected 1-64 characters of [A-Za-z0-9_.:-], got ${describeValue(keyPrefix)}`)
  const subscriber = options.subscriber
  if (subscriber !== undefined && typeof subscriber !== 'function' && !isClient(subscriber))
    throw fail(
      `subscriber: expected an ioredis client or a function returning one, got ${describeValue(subscriber)}`,
    )
  return {
    client: options.client,
    keyPrefix,
    commandTimeoutMs:
      options.commandTimeoutMs === undefined
        ? DEFAULT_COMMAND_TIMEOUT_MS
        : duration(options.commandTimeoutMs, 'commandTimeoutMs', fail),
    generationTtlMs:
      options.generationTtlMs === undefined
        ? DEFAULT_GENERATION_TTL_MS
        : duration(options.generationTtlMs, 'generationTtlMs', fail),
    replicaAckMs:
      options.replicaAckMs === undefined
        ? DEFAULT_REPLICA_ACK_MS
        : duration(options.replicaAckMs, 'replicaAckMs', fail, { allowZero: true, integer: true }),
    subscriber: subscriber as KeydbStoreOptions['subscriber'],
  }
}
