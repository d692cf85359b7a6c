import createError from '@fastify/error'

type Cause = { cause: unknown }

/**
 * Coded errors of `@fastkey/fastify-keydb`. The codes are public API: match on `err.code`, never on
 * the message text.
 */
export const errors = {
  /** A plugin option has a wrong type or value, or two options contradict each other. */
  FST_KEYDB_INVALID_OPTION: createError<'FST_KEYDB_INVALID_OPTION', 500, [option: string, problem: string]>(
    'FST_KEYDB_INVALID_OPTION',
    '@fastkey/fastify-keydb: invalid option `%s`: %s',
    500,
    TypeError,
  ),
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
} as const
