import type { ClusterOptions, RedisOptions } from 'ioredis'

/**
 * Registration waits this long for the first `ready` (and each connect attempt gets as long). Short
 * because a cache must not hold the app's boot hostage: the app starts without it and the client
 * catches up in the background.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_500

/**
 * Per-command deadline. A healthy KeyDB answers in well under 1 ms on a LAN and a 1 MB value takes
 * ~10 ms on 1 Gbit/s, so 500 ms is never hit by a healthy server, yet bounds how long a request can
 * wait on a frozen one. The cache engine puts its own tighter deadline and a breaker on top.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 500

/**
 * Largest reply a connection accepts, in bytes, before it is dropped. ioredis buffers a reply until it
 * is complete, so a server that announces a 2 GB value and trickles it in would otherwise grow the
 * process' memory without bound. 64 MiB is far above what the cache reads (1 MiB values by default,
 * in batches), and above what a healthy server sends a cache in one reply.
 */
export const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024

/** First reconnect delay; doubled on each failed attempt up to `RECONNECT_MAX_DELAY_MS`. */
export const RECONNECT_BASE_DELAY_MS = 50

/** Longest pause between reconnect attempts: the cache is back at most this long after the server. */
export const RECONNECT_MAX_DELAY_MS = 2_000

/**
 * How long `onClose` waits for QUIT before dropping the socket. A healthy server answers at once; only
 * a dead or frozen one makes close take this long.
 */
export const QUIT_DEADLINE_MS = 500

/** How long `onClose` waits for the socket to report closed after dropping it. */
export const END_DEADLINE_MS = 500

/**
 * Exponential backoff capped at `RECONNECT_MAX_DELAY_MS`, retrying forever so the cache comes back by
 * itself. Up to 20% is taken off at random so that many app instances do not reconnect to a restarted
 * server in the same millisecond. Never longer than the cap.
 */
export function reconnectDelay(attempt: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 16)
  const delay = Math.min(RECONNECT_BASE_DELAY_MS * 2 ** exponent, RECONNECT_MAX_DELAY_MS)
  return Math.round(delay * (1 - Math.random() * 0.2))
}

/**
 * TCP keepalive idle time of every connection, ms (ioredis `keepAlive`: the delay before the first
 * probe). Set on both ioredis majors because their defaults differ: 5 leaves the OS default (2 h on
 * Linux), 6 uses 30 s. A probe every 30 s of silence keeps idle connections alive through NATs, load
 * balancers and firewalls that drop idle flows after a few minutes without telling either end, and
 * finds a dead peer 30 s plus the OS's probes (Linux: 9 x 75 s) after the last traffic. It matters most
 * for `subscriber()`, which sends nothing and would otherwise miss every invalidation silently.
 */
export const TCP_KEEPALIVE_MS = 30_000

/**
 * RESP version of every connection the plugin creates: RESP2 on both ioredis majors (ioredis 6
 * defaults to RESP3, 5 only speaks RESP2), so the handshake and every reply are the same whichever
 * major is installed. The packages also work under RESP3 (tested), for injected clients.
 */
export const DEFAULT_PROTOCOL = 2

export interface FailFastTimeouts {
  /** @default 1500 (ms) */
  connectTimeoutMs?: number
  /** @default 500 (ms) */
  commandTimeoutMs?: number
  /** Add the Sentinel defaults (`failoverDetector`, `sentinelCommandTimeout`), for a client with `sentinels`. @default false */
  sentinel?: boolean
}

type Timeouts = Required<Omit<FailFastTimeouts, 'sentinel'>>

/**
 * The ioredis options the plugin sets, every one explicitly so behaviour is the same on ioredis 5 and 6
 * (whose defaults differ for `retryStrategy`, `keepAlive` and `protocol`). Typed on its own rather than
 * as `RedisOptions`: ioredis 6's constructors refuse a `RedisOptions` value under
 * `exactOptionalPropertyTypes`, and ioredis 5's `RedisOptions` has no `protocol`.
 */
export interface FailFastRedisOptions {
  connectTimeout: number
  commandTimeout: number
  enableOfflineQueue: false
  maxRetriesPerRequest: 0
  retryStrategy: (attempt: number) => number
  keepAlive: number
  protocol: 2
  disableClientInfo: true
  /** Only with `sentinel: true`. */
  failoverDetector?: true
  /** Only with `sentinel: true`. */
  sentinelCommandTimeout?: number
}

/**
 * Options of connections that must never make a request wait: no offline queue (a command issued while
 * disconnected fails at once instead of queueing), a deadline per command, and no resend after a
 * reconnect (`maxRetriesPerRequest: 0`: a command in flight when the socket drops fails at once; by the
 * time it would be resent the caller has fallen back to the origin, so a late resend would be a ghost
 * write). `disableClientInfo`: KeyDB rejects `CLIENT SETINFO`, which only bumps its error counters.
 */
export function standaloneDefaults(t: Timeouts): FailFastRedisOptions {
  return {
    connectTimeout: t.connectTimeoutMs,
    commandTimeout: t.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelay,
    keepAlive: TCP_KEEPALIVE_MS,
    protocol: DEFAULT_PROTOCOL,
    disableClientInfo: true,
  }
}

/**
 * Added through Sentinel. `failoverDetector`: ioredis subscribes to the sentinels' `+switch-master`
 * and reconnects at once. Without it the client stayed on the demoted master for ~11 s after a
 * failover (until the sentinel reconfigured that server and dropped its clients), writing entries
 * nobody reads and reading ones nobody updates. `sentinelCommandTimeout`: a sentinel that accepts
 * connections but never answers (frozen) held master resolution forever, even with a healthy sentinel
 * next in the list; at the command deadline ioredis asks the next one.
 */
export function sentinelDefaults(t: Timeouts): { failoverDetector: true; sentinelCommandTimeout: number } {
  return { failoverDetector: true, sentinelCommandTimeout: t.commandTimeoutMs }
}

/**
 * The plugin's fail-fast ioredis options, for a client created outside the plugin (to inject it, or
 * to hand it to the cache engine directly): `new Redis(url, { ...failFastRedisOptions(), ...yours })`.
 * With `sentinel: true` they include the Sentinel defaults too.
 */
export function failFastRedisOptions(options: FailFastTimeouts = {}): FailFastRedisOptions {
  const t = {
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
  }
  return { ...standaloneDefaults(t), ...(options.sentinel && sentinelDefaults(t)) }
}

/** Same policy for a cluster; the user's options (and their `redisOptions`) override it. */
export function clusterDefaults(t: Timeouts, user: ClusterOptions = {}): ClusterOptions {
  const { retryStrategy: _, enableOfflineQueue: __, ...nodeDefaults } = standaloneDefaults(t)
  return {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    ...user,
    redisOptions: { ...nodeDefaults, ...user.redisOptions },
  }
}

/**
 * The subscriber is the opposite of the command connection: it is not on any request path, so it
 * queues while disconnected, has no command deadline (SUBSCRIBE issued during an outage completes on
 * reconnect instead of failing) and resubscribes by itself after a reconnect.
 */
export const SUBSCRIBER_OVERRIDES = {
  enableOfflineQueue: true,
  autoResubscribe: true,
  maxRetriesPerRequest: null,
  commandTimeout: undefined,
} as const satisfies RedisOptions
