import type { CacheEntry } from './entry.js'
import type { CachePolicy } from './options.js'
import type { TagCapture } from './tags.js'

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
  settled = false

  constructor(key: string) {
    this.key = key
    this.promise = new Promise((resolve) => {
      this.#resolve = resolve
    })
  }

  settle(result: FlightResult): void {
    if (this.settled) return
    this.settled = true
    this.#resolve(result)
  }
}

/** The caller runs the load: it owns the flight and, when it took it, the cross-instance lock. */
export interface LeaderFill {
  role: 'leader'
  key: string
  policy: CachePolicy
  flight: Flight
  /** Lock token to release (also after an ambiguous acquire: release is compare-and-delete). */
  token: string | undefined
  /** Generation seen before the load; `null` when it could not be read (then nothing is stored). */
  generation: string | null
  tagCapture: TagCapture | undefined
  /** Whether a tag capture was asked for but failed (then nothing is stored). */
  tagFailed: boolean
  startedAt: number
  route: string | undefined
  done: boolean
}

/** Another request of this process is loading the key: wait for its flight. */
export interface FollowerFill {
  role: 'follower'
  key: string
  flight: Flight
}

/** Another instance filled the key while we waited for its lock. */
export interface FilledFill {
  role: 'filled'
  key: string
  entry: CacheEntry
  ageMs: number
}

/** Background refresh only: someone else holds the lock, nothing to do. */
export interface BusyFill {
  role: 'busy'
  key: string
}

export type Fill = LeaderFill | FollowerFill | FilledFill | BusyFill
