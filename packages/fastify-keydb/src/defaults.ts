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

export interface FailFastTimeouts {
  /** @default 2000 (ms) */
  connectTimeoutMs?: number
  /** @default 500 (ms) */
  commandTimeoutMs?: number
}

type Timeouts = Required<FailFastTimeouts>

/**
 * Options of connections that must never make a request wait: no offline queue (a command issued while
 * disconnected fails at once instead of queueing), a deadline per command, and no resend after a
 * reconnect (`maxRetriesPerRequest: 0`: a command in flight when the socket drops fails at once; by the
 * time it would be resent the caller has fallen back to the origin, so a late resend would be a ghost
 * write). `disableClientInfo`: KeyDB rejects `CLIENT SETINFO`, which only bumps its error counters.
 */
export function standaloneDefaults(t: Timeouts): RedisOptions {
  return {
    connectTimeout: t.connectTimeoutMs,
    commandTimeout: t.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelay,
    disableClientInfo: true,
  }
}

/**
 * The plugin's fail-fast ioredis options, for a client created outside the plugin (to inject it, or
 * to hand it to the cache engine directly): `new Redis(url, { ...failFastRedisOptions(), ...yours })`.
 */
export function failFastRedisOptions(timeouts: FailFastTimeouts = {}): RedisOptions {
  return standaloneDefaults({
    connectTimeoutMs: timeouts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: timeouts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
  })
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
