// The fastify import makes the module augmentation below resolve against fastify's own types.

import type { ServerKind } from '@fastkey/support'
import type {} from 'fastify'
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis'

/** Which server answers: detected from `INFO server`, never from the version string. */
export type KeydbServer = ServerKind

/** What the connected server is, as read from `INFO server` on every (re)connect. */
export interface KeydbCapabilities {
  /** `'unknown'` until the first successful `INFO server`, or when INFO is not allowed. */
  readonly server: KeydbServer
  /** `redis_version` from `INFO server` (KeyDB reports its own version there), `null` if unknown. */
  readonly version: string | null
  readonly mode: 'standalone' | 'cluster'
  /** Whether the client is connected and accepting commands right now. */
  readonly ready: boolean
}

/** Result of `health()`. Never thrown: a failure is `ok: false` with `error`. */
export interface KeydbHealth {
  ok: boolean
  /** Time until PONG, or until the failure or the deadline, in milliseconds. */
  latencyMs: number
  server: KeydbServer
  /** Why the check failed (message of the error, or the deadline that passed). */
  error?: string
}

export interface KeydbHealthOptions {
  /**
   * Deadline of the PING, in milliseconds.
   * @default the connection's `commandTimeoutMs` (500)
   */
  timeoutMs?: number
}

/** What `fastify.keydb` (and each namespace) adds to the ioredis client. */
export interface KeydbExtensions {
  /** PING with a deadline. Never throws, never hangs. */
  health(options?: KeydbHealthOptions): Promise<KeydbHealth>
  /**
   * A dedicated connection for SUBSCRIBE/PSUBSCRIBE, created on first call with `duplicate()` and
   * returned again on later calls. Unlike the main client it queues commands while disconnected and
   * resubscribes after a reconnect. Closed when the app closes. In cluster mode it is a `Cluster`
   * (same pub/sub API), see {@link KeydbClient}.
   */
  subscriber(): Redis
  /** Server kind, version and mode; refreshed on every reconnect. */
  readonly capabilities: KeydbCapabilities
}

/**
 * The ioredis client with the plugin's extensions, as exposed on `fastify.keydb`.
 *
 * Typed as `Redis` even in cluster mode (as `@fastify/redis` does): `Cluster` declares a private
 * `subscriber` member, so any intersection of `Cluster` with these extensions is `never` in
 * TypeScript. The command API is the same; `capabilities.mode` tells which one it is at runtime.
 */
export type KeydbClient = Redis & KeydbExtensions

/**
 * Named connections known at compile time. Augment it to type your namespaces:
 * ```ts
 * declare module '@fastkey/fastify-keydb' {
 *   interface KeydbNamespaces { sessions: KeydbClient }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: an empty interface is the augmentation point.
export interface KeydbNamespaces {}

/**
 * Type of `fastify.keydb`: the default connection, its declared namespaces, and any other namespace
 * (possibly `undefined`). With only namespaced registrations the value is a plain object holding the
 * namespaces; the client members are then absent at runtime.
 */
export type FastifyKeydb = KeydbClient &
  KeydbNamespaces & { readonly [namespace: string]: KeydbClient | undefined }

/** Options every connection source accepts. */
export interface KeydbCommonOptions {
  /**
   * Registers a named connection, exposed as `fastify.keydb.<namespace>`. Letters, digits, `_` and
   * `-`, starting with a letter or `_`, at most 64 characters.
   * @default undefined (the default connection, `fastify.keydb`)
   */
  namespace?: string
  /**
   * How long registration waits for the connection to be ready, in milliseconds; also the ioredis
   * `connectTimeout` of each connect attempt.
   * @default 1500
   */
  connectTimeoutMs?: number
  /**
   * Deadline of every command, in milliseconds (ioredis `commandTimeout`); the default deadline of
   * `health()`. On the connections the plugin creates (and their `duplicate()`s) it decides after
   * the poll phase that follows its timer: a reply that arrived in time but waited behind this
   * process's busy event loop is not a timeout.
   * @default 500
   */
  commandTimeoutMs?: number
  /**
   * `true`: registration fails with `FST_KEYDB_CONNECT_FAILED` when the server is not ready within
   * `connectTimeoutMs`. `false`: the app starts anyway (one warning) and the client keeps reconnecting.
   * @default false
   */
  requireOnBoot?: boolean
  /**
   * Largest reply a connection accepts, in bytes: a reply that grows past it before it is complete
   * (or announces a larger size) drops the connection, logged once per connection as
   * `FST_KEYDB_REPLY_TOO_LARGE`. It bounds the memory a misbehaving server can make ioredis buffer.
   * Applies to every connection the plugin creates (client, `subscriber()`, cluster nodes and the
   * cluster's pub/sub connection) and to an injected client from its next connect.
   * `Infinity` turns the check off.
   * @default 67108864 (64 MiB)
   */
  maxReplyBytes?: number
}

/** Connect to one server (or through Sentinel) by URL and/or ioredis options. */
export interface KeydbStandaloneOptions extends KeydbCommonOptions, RedisOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `rediss://...` (TLS). Checked at registration:
   * a host, a port from 1 to 65535, a database index that is an integer >= 0 (in the path or as
   * `?db=`, once). An index the server refuses fails registration.
   */
  url?: string
  cluster?: never
  client?: never
  closeClient?: never
}

/** Connect to a Redis Cluster / KeyDB cluster. */
export interface KeydbClusterOptions extends KeydbCommonOptions {
  cluster: {
    /** Seed nodes. */
    nodes: ClusterNode[]
    /** ioredis Cluster options (per-node options go in `redisOptions`); override the defaults. */
    options?: ClusterOptions
  }
  url?: never
  client?: never
  sentinels?: never
  closeClient?: never
}

/** Use a client created elsewhere. */
export interface KeydbInjectedClientOptions extends KeydbCommonOptions {
  client: Redis | Cluster
  /**
   * Close the injected client when the app closes.
   * @default false (the client belongs to whoever created it)
   */
  closeClient?: boolean
  url?: never
  cluster?: never
  sentinels?: never
}

export type FastifyKeydbOptions = KeydbStandaloneOptions | KeydbClusterOptions | KeydbInjectedClientOptions

declare module 'fastify' {
  interface FastifyInstance {
    /** KeyDB/Redis connection(s) owned by `@fastkey/fastify-keydb`. */
    keydb: FastifyKeydb
  }
}
