import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * Gives each simulated app instance its own wall clock inside one process: `Date.now()` returns the
 * real time plus the skew of the instance whose work is running (tracked through async context), so a
 * request to instance B, and everything its engine does for it, sees B's clock.
 */
export class SkewedClocks {
  readonly #als = new AsyncLocalStorage<number>()
  readonly #realNow = Date.now
  #installed = false

  install(): void {
    if (this.#installed) return
    const realNow = this.#realNow
    const als = this.#als
    Date.now = () => realNow() + (als.getStore() ?? 0)
    this.#installed = true
  }

  /** Runs `fn` (and the async work it starts) on a clock `skewMs` off. */
  run<T>(skewMs: number, fn: () => T): T {
    return this.#als.run(skewMs, fn)
  }

  restore(): void {
    Date.now = this.#realNow
    this.#installed = false
  }
}
