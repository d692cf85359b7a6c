import { errorMessage } from '@fastkey/support'
import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'

/**
 * Logs connection state changes: one warning when the connection is lost and one info line when it is
 * ready again, however many reconnect attempts fail in between. Its 'error' listener also keeps ioredis
 * from printing "Unhandled error event" to stderr on every attempt.
 */
export class ConnectionMonitor {
  readonly #client: Redis | Cluster
  readonly #log: FastifyBaseLogger
  readonly #address: string
  #active = false
  #down = false
  #refusalLogged = false

  readonly #onError = (err: Error) => this.#lost(errorMessage(err))
  readonly #onReconnecting = () => this.#lost('connection closed')
  readonly #onReady = () => {
    // A socket whose SELECT was refused is already dropped; ioredis may still call it ready.
    if (this.#unusable()) return
    if (this.#active && this.#down) this.#log.info(`KeyDB at ${this.#address} is ready again`)
    this.#down = false
    this.#refusalLogged = false
  }
  readonly #unusable: () => boolean

  /** `unusable`: whether the current socket must not count as ready (its SELECT was refused). */
  constructor(
    client: Redis | Cluster,
    log: FastifyBaseLogger,
    address: string,
    unusable: () => boolean = () => false,
  ) {
    this.#client = client
    this.#log = log
    this.#address = address
    this.#unusable = unusable
    client.on('error', this.#onError)
    client.on('reconnecting', this.#onReconnecting)
    client.on('ready', this.#onReady)
  }

  /** Turns logging on once registration has reported the boot outcome itself. */
  activate(bootFailed: boolean): void {
    this.#active = true
    // The boot warning already covers this outage: no second warning until it has been ready once.
    this.#down = bootFailed && this.#client.status !== 'ready'
  }

  stop(): void {
    this.#active = false
    this.#client.off('error', this.#onError)
    this.#client.off('reconnecting', this.#onReconnecting)
    this.#client.off('ready', this.#onReady)
  }

  /**
   * The server refused the connection's database: one error line until the connection is ready
   * again (even when the outage was already reported), instead of a warning per attempt.
   */
  selectRefused(error: Error): void {
    if (!this.#active || this.#refusalLogged) return
    this.#refusalLogged = true
    this.#down = true
    this.#log.error({ err: error }, error.message)
  }

  #lost(reason: string): void {
    if (!this.#active || this.#down) return
    this.#down = true
    this.#log.warn(
      `KeyDB at ${this.#address} is unreachable (${reason}); commands fail fast while the client reconnects`,
    )
  }
}
