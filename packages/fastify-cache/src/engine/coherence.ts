import { BUS_CLEAR, BUS_KEYS_CHANGED, BUS_KEYS_DELETED, type Bus } from '../bus/bus.js'
import type { Failures } from './failures.js'
import type { L1Tier } from './l1.js'

/**
 * Keeps this instance coherent with the others through the bus: evicts its in-process tier when
 * another instance writes or deletes a key, forgets loads in flight that a delete made stale, wakes
 * the requests waiting for another instance's fill, and counts every invalidation heard (`epoch`):
 * a read or write that overlapped one must not keep what it got in the in-process tier.
 */
export class Coherence {
  readonly #bus: Bus
  readonly #l1: L1Tier | undefined
  readonly #failures: Failures
  readonly #forgetLoads: (keys?: readonly string[]) => void
  /** Requests waiting for another instance's fill of a key, woken when a message names the key. */
  readonly wakers = new Map<string, Set<() => void>>()
  #epoch = 0

  constructor(
    bus: Bus,
    l1: L1Tier | undefined,
    failures: Failures,
    forgetLoads: (keys?: readonly string[]) => void,
  ) {
    this.#bus = bus
    this.#l1 = l1
    this.#failures = failures
    this.#forgetLoads = forgetLoads
    bus.on(BUS_KEYS_CHANGED, (payload, fromSelf) => this.#keysChanged(payload.split('\n'), fromSelf, false))
    bus.on(BUS_KEYS_DELETED, (payload, fromSelf) => this.#keysChanged(payload.split('\n'), fromSelf, true))
    bus.on(BUS_CLEAR, (_payload, fromSelf) => {
      this.#epoch++
      if (!fromSelf) this.#l1?.clear()
    })
  }

  /** Moves on every invalidation heard (and every bus gap): compare before and after an operation. */
  get epoch(): number {
    return this.#epoch
  }

  /**
   * This instance invalidates `keys` (every key: `undefined`): drops them from L1 and moves the epoch,
   * so a read in flight does not put back what it read before. Called before the store is changed
   * and again once it has been: a read that started in between and ended first is dropped by the
   * second call, one that ends after it sees a new epoch. Its own bus echo cannot do this: it
   * arrives after the caller resolved, or never when the bus is down.
   */
  invalidatedHere(keys: readonly string[] | undefined): void {
    this.#epoch++
    if (keys === undefined) this.#l1?.clear()
    else for (const key of keys) this.#l1?.delete(key)
  }

  /** The subscription came back after a gap, or went silent: messages may be lost, forget what L1 holds. */
  reset(): void {
    this.#epoch++
    this.#l1?.clear()
  }

  /**
   * Whether the in-process tier can be trusted now: the bus is up, so no eviction goes unheard, and
   * the store is not held (invalidations this instance could not apply may concern what L1 holds).
   */
  get trusted(): boolean {
    return this.#bus.healthy && !this.#failures.held
  }

  /** Whether L1 may keep what an operation that started at `epoch` brought back. */
  mayKeep(epoch: number): boolean {
    return epoch === this.#epoch && this.trusted
  }

  /**
   * Tells every instance that `keys` changed (or were deleted). With `confirmMs`, resolves once the
   * message came back on this instance's subscription. A failure is reported, never thrown.
   */
  async publishKeys(keys: readonly string[], deleted = false, confirmMs = 0): Promise<void> {
    await this.#bus
      .publish(deleted ? BUS_KEYS_DELETED : BUS_KEYS_CHANGED, keys.join('\n'), confirmMs)
      .catch((error) => this.#failures.report('publish', error))
  }

  #keysChanged(keys: string[], fromSelf: boolean, deleted: boolean): void {
    this.#epoch++
    if (!fromSelf) {
      for (const key of keys) this.#l1?.delete(key)
      if (deleted) this.#forgetLoads(keys)
    }
    for (const key of keys) {
      const wakers = this.wakers.get(key)
      if (wakers) for (const wake of wakers) wake()
    }
  }
}
