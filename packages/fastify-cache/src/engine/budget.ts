import type { EventLoopUtilization } from 'node:perf_hooks'
import { waitedMs } from '../util/waited.js'

/**
 * The time one request (or service call) may spend waiting on the store, shared by every call it
 * makes before its answer (lookup, vary marker, lock, generation, tag capture; for a service call
 * also the write of its result): one deadline in total, however many calls a KeyDB that answers each
 * just under its deadline would otherwise add up to. Only time in store calls is charged: the
 * origin's time is not, nor waiting for another instance's fill (bounded by `lock.waitMs`).
 */
export class StoreBudget {
  /** The whole budget, ms: the store's own deadline for one call. */
  readonly ms: number
  #spentMs = 0

  constructor(ms: number) {
    this.ms = ms
  }

  /** Time left, ms (0 when spent). */
  remainingMs(): number {
    return Math.max(0, this.ms - this.#spentMs)
  }

  /** Whether a call made now needs cutting short: less is left than the store's own deadline. */
  cuts(remainingMs: number): boolean {
    return remainingMs < this.ms - 1
  }

  /** Charges the store's share (see waitedMs) of the time since `startedAt` of one call. */
  charge(startedAt: number, loopAtStart?: EventLoopUtilization): void {
    this.#spentMs += waitedMs(startedAt, loopAtStart)
  }
}

export function budgetFor(deadlineMs: number | undefined): StoreBudget | undefined {
  return deadlineMs === undefined ? undefined : new StoreBudget(deadlineMs)
}
