type Waiter<V> = { resolve(value: V): void; reject(error: unknown): void }

/**
 * Runs one batch for the keys asked during one event-loop turn. It must settle or fail every key it
 * was given; keys of a part that failed can fail alone (e.g. one cluster slot).
 */
export type BatchRun<V> = (
  keys: string[],
  settle: (key: string, value: V) => void,
  fail: (key: string, error: unknown) => void,
) => void

/**
 * Coalesces the lookups of one event-loop turn: requests that arrive together (one poll phase) ask
 * once, a key asked twice is fetched once, and the batch goes out right after the poll phase
 * (setImmediate), when every request that arrived has asked.
 */
export class TickBatch<V> {
  #pending = new Map<string, Waiter<V>[]>()
  #scheduled = false
  readonly #run: BatchRun<V>

  constructor(run: BatchRun<V>) {
    this.#run = run
  }

  get(key: string): Promise<V> {
    return new Promise((resolve, reject) => {
      const waiters = this.#pending.get(key)
      if (waiters) waiters.push({ resolve, reject })
      else this.#pending.set(key, [{ resolve, reject }])
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(this.#flush)
      }
    })
  }

  #flush = (): void => {
    const pending = this.#pending
    this.#pending = new Map()
    this.#scheduled = false
    const settle = (key: string, value: V) => {
      for (const waiter of pending.get(key) ?? []) waiter.resolve(value)
    }
    const fail = (key: string, error: unknown) => {
      for (const waiter of pending.get(key) ?? []) waiter.reject(error)
    }
    try {
      this.#run([...pending.keys()], settle, fail)
    } catch (error) {
      for (const key of pending.keys()) fail(key, error)
    }
  }
}
