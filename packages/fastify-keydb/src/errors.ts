import createError from '@fastify/error'

type Cause = { cause: unknown }

/**
 * Coded errors of `@fastkey/fastify-keydb`. The codes are public API: match on `err.code`, never on
 * the message text.
 */
export const errors = {
  /**
   * A plugin option has a wrong type or value, two options contradict each other, or the server
   * refused the database index at boot.
   */
  FST_KEYDB_INVALID_OPTION: createError<
    'FST_KEYDB_INVALID_OPTION',
    500,
    [option: string, problem: string, cause?: Cause]
  >('FST_KEYDB_INVALID_OPTION', '@fastkey/fastify-keydb: invalid option `%s`: %s', 500, TypeError),
  /** The default connection, or one namespace, is registered twice on the same instance. */
  FST_KEYDB_ALREADY_REGISTERED: createError<'FST_KEYDB_ALREADY_REGISTERED', 500, [what: string]>(
    'FST_KEYDB_ALREADY_REGISTERED',
    '@fastkey/fastify-keydb: %s is already registered on this instance',
    500,
  ),
  /** `requireOnBoot: true` and the server was not ready within `connectTimeoutMs`. */
  FST_KEYDB_CONNECT_FAILED: createError<
    'FST_KEYDB_CONNECT_FAILED',
    500,
    [address: string, timeoutMs: number, reason: string, cause?: Cause]
  >('FST_KEYDB_CONNECT_FAILED', '@fastkey/fastify-keydb: could not connect to %s within %d ms: %s', 500),
  /** `subscriber()` was called after the app closed the connection it belongs to. */
  FST_KEYDB_CLOSED: createError<'FST_KEYDB_CLOSED', 500, [what: string]>(
    'FST_KEYDB_CLOSED',
    '@fastkey/fastify-keydb: %s was called after the app closed its KeyDB connections',
    500,
  ),
  /**
   * The server refused the database index the connection must use (`SELECT` failed, e.g. an index at
   * or above its `databases`). The connection is dropped and retried; it is never used on another
   * database.
   */
  FST_KEYDB_SELECT_REFUSED: createError<
    'FST_KEYDB_SELECT_REFUSED',
    500,
    [address: string, db: number, reason: string]
  >(
    'FST_KEYDB_SELECT_REFUSED',
    '@fastkey/fastify-keydb: KeyDB at %s refused SELECT %d (%s): the connection is dropped and retried, never used on another database',
    500,
  ),
  /**
   * A reply from the server grew past `maxReplyBytes` before it was complete (or announced a larger
   * size). The connection is dropped: its commands fail, the client reconnects.
   */
  FST_KEYDB_REPLY_TOO_LARGE: createError<
    'FST_KEYDB_REPLY_TOO_LARGE',
    500,
    [connection: string, what: string, limit: number]
  >(
    'FST_KEYDB_REPLY_TOO_LARGE',
    '@fastkey/fastify-keydb: %s: a reply %s, over maxReplyBytes (%d): connection dropped',
    500,
  ),
} as const
