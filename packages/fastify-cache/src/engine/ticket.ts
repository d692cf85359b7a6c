import type { TagCapture } from '../extension/tag-provider.js'
import type { LoadTraceContext } from '../tracing/channels.js'
import { closeLoad, openLoad } from '../tracing/trace.js'
import type { CacheEntry } from './entry.js'
import type { Flight, FlightResult } from './flight.js'
import { buildEntry, type EntryInit, type Lookup, servableOnError } from './freshness.js'
import type { EngineParts } from './parts.js'
import type { CachePolicy } from './policy.js'
import type { EntryWriter } from './writer.js'

/** What a leading ticket holds: the flight its followers wait on, the lock, the fences of its write. */
export interface Lead {
  flight: Flight
  /** Lock token to release (also after an ambiguous acquire: release is compare-and-delete). */
  token: string | undefined
  /** Generation seen before the load; `null` when it could not be read (then nothing is stored). */
  generation: string | null
  capture: { value: TagCapture } | 'failed' | undefined
  startedAt: number
  done: boolean
}

export type TicketParts = Pick<EngineParts, 'store' | 'failures' | 'signals' | 'background'> & {
  writer: EntryWriter
  /**
   * A leading ticket ended: removes its settled flight from the single-flight map (unless an
   * invalidation replaced it) and from the fills still running.
   */
  detach(flight: Flight, ticket: FillTicket): void
}

/**
 * The right to run the origin for one key, handed out by the fill coordinator: the caller runs the
 * handler or loader and ends the ticket once, with `complete`, `fail` or `abandon`. A leading ticket
 * shares the result with this process's followers, stores it when no delete or invalidation raced the
 * load, and releases the lock; a passive one (a HEAD request, a follower that stopped waiting) only
 * runs the origin. Ending never rejects and is tracked, so close() waits for the store work.
 */
export class FillTicket {
  readonly key: string
  readonly policy: CachePolicy
  readonly route: string | undefined
  /** A copy found by the lookup that may still be served: on an origin failure, or a slow origin. */
  readonly staleCopy: Lookup | undefined
  readonly #lead: Lead | undefined
  readonly #parts: TicketParts
  /** The `fastkey:cache:load` trace of a leading ticket, when someone listened as it began. */
  readonly #trace: LoadTraceContext | undefined

  constructor(
    parts: TicketParts,
    key: string,
    policy: CachePolicy,
    route: string | undefined,
    staleCopy: Lookup | undefined,
    lead: Lead | undefined,
  ) {
    this.#parts = parts
    this.key = key
    this.policy = policy
    this.route = route
    this.staleCopy = staleCopy
    this.#lead = lead
    this.#trace = lead ? openLoad(route) : undefined
  }

  /** Whether this ticket leads the load (and has not ended). */
  get leading(): boolean {
    return this.#lead !== undefined && !this.#lead.done
  }

  /** The entry a response or value becomes, or `undefined` (counted as a skip) when too large. */
  entryOf(init: EntryInit): CacheEntry | undefined {
    const lead = this.#lead
    const loadMs = init.loadMs ?? (lead ? performance.now() - lead.startedAt : 0)
    const entry = buildEntry(this.policy, { ...init, loadMs })
    if (!entry) this.#parts.signals.skip(this.key, 'too-large', this.route, init.body.length)
    return entry
  }

  /**
   * The origin answered (`ok`: as a success, for the `load` event). Followers get `result` at once;
   * its entry is stored if the fences hold; the lock is released. Resolves whether it was stored.
   */
  complete(
    result: FlightResult,
    tags?: readonly string[],
    ok = true,
    gate?: (ttlMs: number) => Promise<boolean>,
  ): Promise<boolean> {
    const lead = this.#end(result, ok)
    if (!lead) return Promise.resolve(false)
    const entry = result.entry
    return this.#track(false, async () => {
      let written = false
      try {
        written = entry
          ? await this.#parts.writer.write(this.key, entry, this.policy, { ...this.#fence(lead, tags), gate })
          : false
        return written
      } finally {
        // A written entry keeps its generation (it lives as long as the entry); only the lock goes.
        await this.#release(lead, written)
      }
    })
  }

  /**
   * The origin failed (threw, or answered 5xx): followers learn it (those holding a stale copy serve
   * it, the others do not retry the failing origin all at once) and the lock is released.
   */
  fail(error?: unknown): Promise<void> {
    const lead = this.#end({ outcome: 'error', error }, false)
    return lead ? this.#track(undefined, () => this.#release(lead)) : Promise.resolve()
  }

  /** Ends the ticket with nothing to share or store. Does nothing when it already ended. */
  abandon(): Promise<void> {
    const lead = this.#end({ outcome: 'none' }, undefined)
    return lead ? this.#track(undefined, () => this.#release(lead)) : Promise.resolve()
  }

  /** The caller stopped waiting for the origin (soft deadline): its load is traced as `timeout`. */
  timedOut(): void {
    if (this.#trace) this.#trace.outcome = 'timeout'
  }

  /** The stale copy to serve because the origin failed (counted as `stale`), if one may be served. */
  staleOnError(): Lookup | undefined {
    if (!servableOnError(this.staleCopy)) return undefined
    this.#parts.signals.stale(this.key, 'error', this.route)
    return this.staleCopy
  }

  /** Settles the flight once; `ok` undefined: the origin did not run to an answer (no `load` event). */
  #end(result: FlightResult, ok: boolean | undefined): Lead | undefined {
    const lead = this.#lead
    if (!lead || lead.done) return undefined
    lead.done = true
    if (ok !== undefined)
      this.#parts.signals.load(this.key, performance.now() - lead.startedAt, ok, this.route)
    if (this.#trace) closeLoad(this.#trace, ok, result.outcome === 'error' ? result.error : undefined)
    lead.flight.settle(result)
    // Requests arriving from now on must not be handed this result: an invalidation may land before
    // it is stored, and the store (conditional write, tag seal) decides whether it may be served.
    this.#parts.detach(lead.flight, this)
    return lead
  }

  #fence(lead: Lead, tags: readonly string[] | undefined) {
    return { generation: lead.generation, capture: lead.capture, tags, route: this.route }
  }

  /**
   * Releases the lock and, unless `written`, the generation read (nothing stored: no key left). An
   * acquire whose reply was lost may still have created one: the generation it creates is its token.
   */
  async #release(lead: Lead, written = false): Promise<void> {
    const token = lead.token
    const generation = written ? undefined : (lead.generation ?? token)
    if (token === undefined && generation === undefined) return
    lead.token = undefined
    lead.generation = null
    await this.#parts.store
      .releaseLock(this.key, token ?? '', generation)
      .catch((error) => this.#parts.failures.report('unlock', error, this.key))
  }

  /** Runs store work tracked for close(); a bug in it is reported and resolves `fallback`, never rejects. */
  #track<T>(fallback: T, work: () => Promise<T>): Promise<T> {
    const task = work().catch((error: unknown) => {
      this.#parts.failures.report('set', error, this.key)
      return fallback
    })
    this.#parts.background.track(task)
    return task
  }
}
