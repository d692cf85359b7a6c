import type { CacheStore } from './store/types.js'

/** Message kinds on the bus. Extensions (tags) may add their own single-letter kinds. */
export const BUS_KEYS_CHANGED = 'k'
export const BUS_KEYS_DELETED = 'd'
export const BUS_CLEAR = 'c'

export type BusListener = (payload: string, fromSelf: boolean) => void

export interface BusEvents {
  /** The subscription is up again after a gap (or for the first time): messages may have been missed. */
  reset(): void
  /** A failure to report (publish failed, subscription error). */
  error(error: unknown): void
}

/**
 * Invalidation messages between instances over the store's pub/sub. A message is
 * `<instanceId>.<seq> <kind> <payload>`; every instance, the sender included, hears it.
 * `healthy` is false until the subscription is confirmed and after it drops: while it is false the
 * engine does not trust its in-process tier.
 */
export class Bus {
  readonly instanceId: string
  readonly #store: CacheStore
  readonly #listeners = new Map<string, BusListener[]>()
  readonly #events: BusEvents
  readonly #resetListeners: Array<() => void> = []
  readonly #echoes = new Map<string, () => void>()
  #seq = 0
  #healthy = false
  #unsubscribe: (() => Promise<void>) | undefined
  #closed = false

  constructor(store: CacheStore, instanceId: string, events: BusEvents) {
    this.#store = store
    this.instanceId = instanceId
    this.#events = events
  }

  get healthy(): boolean {
    return this.#healthy
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#store.subscribe({
      message: (message) => this.#dispatch(message),
      reset: () => this.#reset(),
      down: () => {
        this.#healthy = false
      },
    })
    // The memory store's bus cannot drop messages: it is healthy as soon as it is subscribed.
    if (this.#store.kind === 'memory' && !this.#closed) this.#reset()
  }

  /** Runs `listener` whenever the subscription is (re)established: drop anything memoised from the bus. */
  onReset(listener: () => void): void {
    this.#resetListeners.push(listener)
  }

  #reset(): void {
    this.#healthy = !this.#closed
    this.#events.reset()
    for (const listener of this.#resetListeners) listener()
  }

  on(kind: string, listener: BusListener): void {
    const list = this.#listeners.get(kind)
    if (list) list.push(listener)
    else this.#listeners.set(kind, [listener])
  }

  /**
   * Publishes a message. With `confirmMs`, also waits (at most that long) until the message comes
   * back on this instance's own subscription: the server delivers a message to every subscriber at
   * once, so by then it has been handed to every other instance too.
   */
  async publish(kind: string, payload: string, confirmMs = 0): Promise<void> {
    const sender = `${this.instanceId}.${++this.#seq}`
    if (confirmMs <= 0 || !this.#healthy) {
      await this.#store.publish(`${sender} ${kind} ${payload}`)
      return
    }
    let timer: NodeJS.Timeout | undefined
    const echoed = new Promise<void>((resolve) => {
      this.#echoes.set(sender, resolve)
      timer = setTimeout(resolve, confirmMs)
    })
    try {
      await this.#store.publish(`${sender} ${kind} ${payload}`)
      await echoed
    } finally {
      clearTimeout(timer)
      this.#echoes.delete(sender)
    }
  }

  #dispatch(message: string): void {
    const first = message.indexOf(' ')
    const second = message.indexOf(' ', first + 1)
    if (first < 0 || second < 0) return
    const kind = message.slice(first + 1, second)
    const sender = message.slice(0, first)
    const fromSelf = sender.startsWith(this.instanceId) && sender[this.instanceId.length] === '.'
    if (fromSelf) this.#echoes.get(sender)?.()
    const list = this.#listeners.get(kind)
    if (!list) return
    const payload = message.slice(second + 1)
    for (const listener of list) {
      try {
        listener(payload, fromSelf)
      } catch (error) {
        this.#events.error(error)
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#healthy = false
    await this.#unsubscribe?.()
  }
}
