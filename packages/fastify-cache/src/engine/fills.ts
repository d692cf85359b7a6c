import { randomBytes } from 'node:crypto'
import { closeLockWait, openLockWait } from '../tracing/trace.js'
import type { StoreBudget } from './budget.js'
import { FAILED } from './failures.js'
import { Flight } from './flight.js'
import { type Found, fillResult, type Lookup } from './freshness.js'
import type { EngineParts } from './parts.js'
import type { CachePolicy, ResolvedLock } from './policy.js'
import { FillTicket, type Lead, type TicketParts } from './ticket.js'
import type { Tiers } from './tiers.js'
import { type WaitOutcome, waitForFill } from './wait.js'
import type { EntryWriter } from './writer.js'

/** How a fill began. */
export type Fill =
  /** This caller runs the origin. */
  | { role: 'leader'; ticket: FillTicket }
  /** Another request of this process is loading the key: wait for its flight. */
  | { role: 'follower'; flight: Flight }
  /** Another instance filled the key while we waited for its lock (or wrote its vary marker). */
  | { role: 'filled'; lookup: Found }
  /** Background refresh only: someone else holds the lock, nothing to do. */
  | { role: 'busy' }

export interface BeginOptions {
  /** Tags known before the load (service calls): their versions are captured now. */
  tags?: readonly string[] | undefined
  /** The result will carry tags computed after the load (routes with `tags`). */
  tagged?: boolean
  /** Wait for another instance's fill (`false`: background refresh, give up instead). @default true */
  wait?: boolean
  route?: string | undefined
  /** The store just failed for this request: coalesce in process only, touch the store no more. */
  storeDown?: boolean
  /** A copy the lookup found that may still be served (stale-if-error, slow origin). */
  staleCopy?: Lookup | undefined
  /** What is left of the request's time on the store (the lock, the generation, the tag capture). */
  budget?: StoreBudget | undefined
  /**
   * The lookup found nothing at all: the lock is taken only if the key is still empty, so a fill that
   * landed since (another request's, stored after this lookup was answered) is served, not loaded again.
   */
  coldMiss?: boolean
}

type FillParts = Pick<EngineParts, 'store' | 'failures' | 'tags' | 'coherence' | 'signals' | 'background'> & {
  writer: EntryWriter
  tiers: Tiers
}

/**
 * Fill coordination: one load per key in this process (single-flight), one across instances (the
 * fill lock, with waiters that take over a released or expired lock), and the fences a fill's write
 * depends on (the key's generation, the tag capture), all taken before the origin runs.
 */
export class Fills {
  readonly #flights = new Map<string, Flight>()
  /** Leading tickets not ended yet (abandoned by close() past its deadline). */
  readonly #running = new Set<FillTicket>()
  readonly #parts: FillParts
  readonly #ticketParts: TicketParts

  constructor(parts: FillParts) {
    this.#parts = parts
    this.#ticketParts = {
      ...parts,
      detach: (flight, ticket) => {
        this.#running.delete(ticket)
        this.#detach(flight)
      },
    }
  }

  /**
   * Ends every fill still running with nothing stored: releases its lock and generation (so another
   * instance loads at once instead of waiting out the lock); what its origin answers later is not
   * stored. Resolves how many were abandoned.
   */
  async abandonAll(): Promise<number> {
    const running = [...this.#running]
    await Promise.all(running.map((ticket) => ticket.abandon()))
    return running.length
  }

  /** Whether a load of `key` is in flight in this process. */
  has(key: string): boolean {
    return this.#flights.has(key)
  }

  /** A ticket that runs the origin without coordinating or storing (HEAD, a follower that gave up). */
  passive(
    key: string,
    policy: CachePolicy,
    route: string | undefined,
    staleCopy: Lookup | undefined,
  ): FillTicket {
    return new FillTicket(this.#ticketParts, key, policy, route, staleCopy, undefined)
  }

  /**
   * Starts a load of `key`: joins this process's load of the key if there is one, else takes the
   * cross-instance lock. Without the lock it waits for the holder's fill (bus notification or
   * polling) up to `lock.waitMs`, then loads itself.
   */
  async begin(key: string, policy: CachePolicy, options: BeginOptions = {}): Promise<Fill> {
    const existing = this.#flights.get(key)
    if (existing) return { role: 'follower', flight: existing }
    const flight = new Flight(key)
    this.#flights.set(key, flight)
    const lead: Lead = {
      flight,
      token: undefined,
      generation: null,
      capture: undefined,
      startedAt: 0,
      done: false,
    }
    const ended = options.storeDown ? undefined : await this.#fence(key, policy, lead, options)
    if (ended) return ended
    const { tags } = this.#parts
    if (
      tags &&
      !options.storeDown &&
      lead.generation !== null &&
      (options.tags !== undefined || options.tagged)
    )
      lead.capture = await this.#parts.writer.capture(options.tags, options.budget)
    lead.startedAt = performance.now()
    const ticket = new FillTicket(this.#ticketParts, key, policy, options.route, options.staleCopy, lead)
    this.#running.add(ticket)
    return { role: 'leader', ticket }
  }

  /**
   * Takes the lock (or, without one, reads the generation) into `lead`. Resolves a fill when the
   * load is not ours after all: someone else filled the key, or holds the lock of a refresh.
   */
  async #fence(
    key: string,
    policy: CachePolicy,
    lead: Lead,
    options: BeginOptions,
  ): Promise<Fill | undefined> {
    const { store, failures } = this.#parts
    if (!policy.lock) {
      lead.generation = await this.#readGeneration(key, options.budget)
      return undefined
    }
    const token = randomBytes(12).toString('base64url')
    const ttlMs = policy.lock.ttlMs
    const lock = await failures.call(
      'lock',
      key,
      () => {
        // Once sent, an acquire that failed, timed out or was cut short may still have taken the lock
        // and created the generation (the token): keep the token, the ticket's release removes both
        // (compare-and-delete, sent after the acquire on the same connection). Nothing is stored.
        lead.token = token
        return store.acquireLock(key, token, ttlMs, options.coldMiss)
      },
      options.budget,
    )
    if (lock === FAILED) return undefined
    if (lock.filled) {
      lead.token = undefined
      const filled = await this.#readFilled(key, policy, options.budget)
      if (filled) {
        this.#endFlight(lead, filled)
        return { role: 'filled', lookup: filled }
      }
      // Gone again, or not servable (another instance's entry that is not fresh): take the lock as usual.
      return this.#fence(key, policy, lead, { ...options, coldMiss: false })
    }
    try {
      lead.generation = lock.generation
      if (lock.acquired) return undefined
      if (options.wait === false) {
        lead.token = undefined
        this.#endFlight(lead, undefined)
        // A refresh that found the lock held created the generation only if the holder's was deleted
        // meanwhile: it fences nothing of ours, remove it.
        if (lock.generation === token)
          this.#parts.background.track(
            store.releaseLock(key, '', token).catch((error) => failures.report('unlock', error, key)),
          )
        return { role: 'busy' }
      }
      const waited = await this.#waitForRemoteFill(key, policy, options.route, token, options.coldMiss)
      if (waited && 'filled' in waited) {
        lead.token = undefined
        this.#endFlight(lead, waited.filled)
        return { role: 'filled', lookup: waited.filled }
      }
      // Handed the lock, or waited long enough: load (a kept token is fine, release is compare-and-delete).
      lead.generation = waited ? waited.acquired.generation : await this.#readGeneration(key)
    } catch (error) {
      failures.report('lock', error, key)
      lead.generation = null
    }
    return undefined
  }

  /** Runs `run` as a background refresh of `key` (one per key across instances); close() waits for it. */
  refreshInBackground(
    key: string,
    policy: CachePolicy,
    run: (ticket: FillTicket) => Promise<void>,
    route: string | undefined,
  ): void {
    if (this.#flights.has(key)) return
    const task = (async () => {
      const fill = await this.begin(key, policy, { wait: false, tagged: true, route })
      if (fill.role !== 'leader') return
      try {
        await run(fill.ticket)
      } finally {
        await fill.ticket.abandon()
      }
    })().catch((error) => this.#parts.failures.report('read', error, key))
    this.#parts.background.track(task)
  }

  /**
   * After an invalidation, loads already in flight may hold old data: requests that start from now on
   * must not join them (their own results are still decided by the store's fences). `keys` undefined:
   * every load in flight (a tag invalidation does not say which keys it touches).
   */
  forget(keys?: readonly string[]): void {
    if (keys === undefined) this.#flights.clear()
    else for (const key of keys) this.#flights.delete(key)
  }

  #endFlight(lead: Lead, filled: Found | undefined): void {
    lead.done = true
    lead.flight.settle(
      filled && 'entry' in filled ? { entry: filled.entry, outcome: 'none' } : { outcome: 'none' },
    )
    this.#detach(lead.flight)
  }

  /** Removes `flight` from the single-flight map, unless an invalidation already replaced it. */
  #detach(flight: Flight): void {
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key)
  }

  /** The store's entry of `key` if it may be served as a fill's result (fresh, or a vary marker). */
  async #readFilled(key: string, policy: CachePolicy, budget?: StoreBudget): Promise<Found | undefined> {
    return fillResult(await this.#parts.tiers.lookupStore(key, policy, budget))
  }

  async #readGeneration(key: string, budget?: StoreBudget): Promise<string | null> {
    const generation = await this.#parts.failures.call(
      'generation',
      key,
      () => this.#parts.store.generation(key),
      budget,
    )
    return generation === FAILED ? null : generation
  }

  #waitForRemoteFill(
    key: string,
    policy: CachePolicy,
    route: string | undefined,
    token: string,
    coldMiss: boolean | undefined,
  ): Promise<WaitOutcome> {
    const lock = policy.lock as ResolvedLock
    const trace = openLockWait(route)
    return waitForFill({
      key,
      waitMs: lock.waitMs,
      read: () => this.#parts.tiers.lookupStore(key, policy),
      // A waiter of a cold miss takes the lock only if the key is still empty (see BeginOptions).
      tryAcquire: () => this.#parts.store.acquireLock(key, token, lock.ttlMs, coldMiss),
      wakers: this.#parts.coherence.wakers,
      onDone: (durationMs, outcome) => {
        closeLockWait(trace, outcome)
        this.#parts.signals.lockWait(key, durationMs, outcome, route)
      },
    })
  }
}
