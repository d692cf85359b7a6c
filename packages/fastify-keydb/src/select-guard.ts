import { errorMessage, withNamedDeadline } from '@fastkey/support'
import type { Redis } from 'ioredis'

export interface SelectRefusal {
  /** The index asked for. */
  db: number
  /** The server's reply, e.g. `ERR DB index is out of range`. */
  reason: string
  error: Error
}

/** A reply of the server carries the command it answers; a dropped socket's error does not. */
function isServerReply(error: unknown): error is Error {
  return error instanceof Error && typeof (error as { command?: unknown }).command === 'object'
}

/**
 * Keeps a connection off any database but its own. ioredis sends `SELECT <db>` on every connect
 * and, when the server refuses it, only emits 'error' and goes on with the connection on database 0:
 * the cache would read and write another application's keys. After a reconnect its ready handler
 * may send SELECT again without handling the rejection (an unhandled rejection: a crash by default).
 *
 * The guard wraps the connection's `select` (ioredis calls it through the instance, so its own calls
 * go through the wrapper too): every SELECT's rejection is handled, and a SELECT the server refuses
 * drops the socket it was sent on. The handler is attached before ioredis' own, so it runs before the
 * ready check's reply can mark that socket ready: no command reaches the wrong database. ioredis then
 * reconnects (with its retry strategy) and tries again.
 */
export class SelectGuard {
  readonly #connection: Redis
  readonly #onRefused: (refusal: SelectRefusal) => void
  readonly #hadOwnSelect: boolean
  readonly #ownSelect: unknown
  #refusal: SelectRefusal | undefined
  #refusedStream: unknown

  constructor(connection: Redis, onRefused: (refusal: SelectRefusal) => void) {
    this.#connection = connection
    this.#onRefused = onRefused
    this.#hadOwnSelect = Object.hasOwn(connection, 'select')
    this.#ownSelect = (connection as unknown as { select: unknown }).select
    const original = connection.select as unknown as (...args: unknown[]) => Promise<unknown>
    const guard = this
    const select = function (this: Redis, ...args: unknown[]): Promise<unknown> {
      const reply = original.apply(this, args)
      reply.catch((error: unknown) => guard.#refused(Number(args[0]), error))
      return reply
    }
    Object.defineProperty(connection, 'select', { value: select, configurable: true, writable: true })
  }

  /** The refusal of the current socket, if its SELECT was refused (until the next socket). */
  get refusal(): SelectRefusal | undefined {
    const stream = this.#connection.stream as unknown
    return this.#refusal !== undefined && this.#refusedStream === stream ? this.#refusal : undefined
  }

  /** Gives the connection its own `select` back (an injected client that stays with its owner). */
  stop(): void {
    if (this.#hadOwnSelect) {
      Object.defineProperty(this.#connection, 'select', {
        value: this.#ownSelect,
        configurable: true,
        writable: true,
      })
    } else {
      delete (this.#connection as unknown as { select?: unknown }).select
    }
  }

  #refused(db: number, error: unknown): void {
    // A SELECT that failed because the socket went away is not a refusal: the reconnect retries it.
    if (!isServerReply(error)) return
    const stream = this.#connection.stream
    this.#refusal = { db, reason: errorMessage(error), error }
    this.#refusedStream = stream
    stream?.destroy()
    this.#onRefused(this.#refusal)
  }
}

/**
 * The server's `databases` setting, read on a short-lived connection to database 0 (the refused
 * connection is gone), for the error message. `undefined` when it cannot be read (CONFIG disabled or
 * renamed, as on many managed servers, or no answer within the deadline).
 */
export async function readDatabaseCount(connection: Redis, timeoutMs: number): Promise<number | undefined> {
  const probe = connection.duplicate({
    db: 0,
    lazyConnect: true,
    enableOfflineQueue: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  })
  probe.on('error', () => {})
  try {
    const reply = await withNamedDeadline(probe.config('GET', 'databases'), timeoutMs, 'CONFIG GET databases')
    const count = Number((reply as unknown[])[1])
    return Number.isSafeInteger(count) && count > 0 ? count : undefined
  } catch {
    return undefined
  } finally {
    probe.disconnect()
  }
}
