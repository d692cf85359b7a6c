import type { CircuitState } from './events.js'
import type { BreakerSettings } from './options.js'

/**
 * Skips the store for a while after repeated failures, so a dead or frozen KeyDB costs each request
 * nothing instead of a deadline. After the cooldown one call probes (half-open): success closes the
 * circuit, failure opens it again.
 */
export class CircuitBreaker {
  readonly #threshold: number
  readonly #cooldownMs: number
  readonly #onChange: (state: CircuitState) => void
  #failures = 0
  #state: CircuitState = 'closed'
  #openedAt = 0
  #probing = false

  constructor(options: BreakerSettings, onChange: (state: CircuitState) => void) {
    this.#threshold = options.failureThreshold
    this.#cooldownMs = options.cooldownMs
    this.#onChange = onChange
  }

  get state(): CircuitState {
    return this.#state
  }

  /** Whether a store call may be made now. */
  allow(): boolean {
    if (this.#state === 'closed') return true
    if (this.#state === 'open') {
      // performance.now is monotonic: a wall-clock jump cannot hold the circuit open.
      if (performance.now() - this.#openedAt < this.#cooldownMs) return false
      this.#set('half-open')
    }
    if (this.#probing) return false
    this.#probing = true
    return true
  }

  success(): void {
    this.#failures = 0
    this.#probing = false
    if (this.#state !== 'closed') this.#set('closed')
  }

  failure(): void {
    this.#probing = false
    this.#failures++
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#threshold)) {
      this.#openedAt = performance.now()
      this.#set('open')
    }
  }

  #set(state: CircuitState): void {
    this.#state = state
    this.#onChange(state)
  }
}
