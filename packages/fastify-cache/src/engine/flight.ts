import type { CacheEntry } from './entry.js'

/** What a load produced, shared with every request of this process that waited for it. */
export interface FlightResult {
  /** The entry to serve and store, when the result is cacheable. */
  entry?: CacheEntry | undefined
  /** 'value' / 'error': a service loader's outcome, shared with followers; 'none': nothing to share. */
  outcome: 'value' | 'error' | 'none'
  value?: unknown
  error?: unknown
  /** The entry's tags (routes), for the tags header of followers: the entry is not sealed yet. */
  tagNames?: readonly string[] | undefined
}

/** One in-process load of a key: the single-flight unit. */
export class Flight {
  readonly key: string
  readonly promise: Promise<FlightResult>
  #resolve!: (result: FlightResult) => void

  constructor(key: string) {
    this.key = key
    this.promise = new Promise((resolve) => {
      this.#resolve = resolve
    })
  }

  settle(result: FlightResult): void {
    this.#resolve(result)
  }
}

/** `promise`, or `undefined` once `ms` have passed (`ms` undefined: no bound). */
export function waitBounded<T>(promise: Promise<T>, ms: number | undefined): Promise<T | undefined> {
  if (ms === undefined) return promise
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}
