import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { errorMessage } from './deadline.js'

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

  readonly #onError = (err: Error) => this.#lost(errorMessage(err))
  readonly #onReconnecting = () => this.#lost('connection closed')
  readonly #onReady = () => {
    if (this.#active && this.#down) this.#log.info(`KeyDB at ${this.#address} is ready again`)
    this.#down = false
  }

  constructor(client: Redis | Cluster, log: FastifyBaseLogger, address: string) {
    this.#client = client
    this.#log = log
    this.#address = address
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

  #lost(reason: string): void {
    if (!this.#active || this.#down) return
    this.#down = true
    this.#log.warn(
      `KeyDB at ${this.#address} is unreachable (${reason}); commands fail fast while the client reconnects`,
    )
  }
}
