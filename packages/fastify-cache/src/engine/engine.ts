import { randomBytes } from 'node:crypto'
import { BackgroundTasks } from '@fastkey/support'
import { BUS_CONFIRM_MS, Bus } from '../bus/bus.js'
import type { TagContext, TagProvider } from '../extension/tag-provider.js'
import { MemoryStore } from '../stores/memory.js'
import type { CacheStore } from '../stores/types.js'
import { Coherence } from './coherence.js'
import { CacheEmitter, Signals } from './events.js'
import { Failures } from './failures.js'
import { Fills } from './fills.js'
import { Invalidations } from './invalidations.js'
import { L1Tier } from './l1.js'
import type { LoadParts } from './loader.js'
import type { ResolvedEngineOptions } from './options.js'
import type { EngineParts } from './parts.js'
import type { CachePolicy } from './policy.js'
import type { RouteEntries } from './route-entries.js'
import { Tiers } from './tiers.js'
import { EntryWriter } from './writer.js'

/** How often held invalidations are retried: a failed attempt costs one store deadline at most. */
const REPLAY_RETRY_MS = 250

/**
 * The composition root of one cache engine: builds every unit from checked options and wires them.
 * The `Cache` facade (service API) and the route adapter both drive it; neither holds engine rules.
 */
export class Engine implements EngineParts, LoadParts {
  readonly events = new CacheEmitter()
  readonly signals = new Signals(this.events)
  readonly instanceId = randomBytes(6).toString('base64url')
  readonly store: CacheStore
  readonly ownsStore: boolean
  readonly defaults: CachePolicy
  readonly failures: Failures
  readonly l1: L1Tier | undefined
  readonly tags: TagProvider | undefined
  readonly bus: Bus
  readonly coherence: Coherence
  readonly background = new BackgroundTasks()
  readonly tiers: Tiers
  readonly writer: EntryWriter
  readonly fills: Fills
  readonly invalidations: Invalidations
  readonly busStarted: Promise<void>
  /** The cached routes of the Fastify apps using this engine (usually one). */
  readonly routes = new Set<RouteEntries>()
  readonly closeTimeoutMs: number
  #closing = false

  constructor(options: ResolvedEngineOptions) {
    this.ownsStore = options.store === undefined
    this.store = options.store ?? new MemoryStore()
    this.defaults = options.defaults
    this.closeTimeoutMs = options.closeTimeoutMs
    this.tags = options.tags
    this.failures = new Failures(this.events, options.breaker, options.logger)
    this.l1 = options.l1 && new L1Tier(options.l1.maxEntries, options.l1.maxBytes, options.l1.ttlMs)
    this.bus = new Bus(this.store, this.instanceId, {
      reset: () => {
        this.coherence.reset()
        // The store answers again: replay what this instance could not apply, before using it.
        void this.invalidations.replay()
      },
      silent: () => this.coherence.reset(),
      error: (error) => this.failures.report('bus', error),
      holding: () => this.invalidations.pending,
    })
    this.coherence = new Coherence(this.bus, this.l1, this.failures, (keys) => this.fills.forget(keys))
    this.tiers = new Tiers(this.store, this.l1, this.failures, this.tags, this.coherence)
    this.writer = new EntryWriter(this)
    this.fills = new Fills({
      store: this.store,
      failures: this.failures,
      tags: this.tags,
      coherence: this.coherence,
      signals: this.signals,
      background: this.background,
      writer: this.writer,
      tiers: this.tiers,
    })
    this.invalidations = new Invalidations({
      store: this.store,
      coherence: this.coherence,
      failures: this.failures,
      signals: this.signals,
      tags: this.tags,
      bus: this.bus,
      forgetLoads: (keys) => this.fills.forget(keys),
      retryMs: REPLAY_RETRY_MS,
    })
    // Store calls wait while invalidations are held, and after a gap until the peers spoke again.
    this.failures.holdWhile(() => this.invalidations.pending || !this.bus.settled)
    this.busStarted = this.bus.start().catch((error) => this.failures.report('bus', error))
    this.tags?.attach?.(this.tagContext())
  }

  closing(): boolean {
    return this.#closing
  }

  /**
   * Waits up to `ms` for background work; past it, abandons the fills still running (a refresh whose
   * origin hangs): locks released, nothing they load later stored. Resolves whether all finished.
   */
  async drainWithin(ms: number): Promise<boolean> {
    if (await this.background.drainWithin(ms)) return true
    const abandoned = await this.fills.abandonAll()
    this.failures.report(
      'close',
      new Error(`background work still running after ${ms} ms: ${abandoned} fill(s) abandoned, not stored`),
    )
    return false
  }

  track(task: Promise<unknown>): void {
    this.background.track(task)
  }

  /** What a tag provider may use of the engine (see `TagContext`). */
  tagContext(): TagContext {
    const { bus } = this
    return {
      store: this.store.location,
      bus: {
        get healthy() {
          return bus.healthy
        },
        on: (kind, listener) => bus.on(kind, listener),
        onReset: (listener) => bus.onReset(listener),
        broadcast: (kind, payload) => bus.publish(kind, payload, BUS_CONFIRM_MS),
      },
      report: (operation, error) => this.failures.report(operation, error),
      forgetLoadsInFlight: () => this.fills.forget(),
    }
  }

  /**
   * Resolves once the bus subscription is confirmed, or after `timeoutMs` if the store is down
   * (tests and benchmarks wait for it; requests never need to).
   */
  async ready(timeoutMs = 2_000): Promise<void> {
    await this.busStarted
    const deadline = performance.now() + timeoutMs
    while (!this.bus.healthy && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  }

  /**
   * Waits for background work (refreshes, fills written after their response) up to
   * `closeTimeoutMs`, abandons what still runs, then releases everything.
   */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    await this.drainWithin(this.closeTimeoutMs)
    this.invalidations.close()
    await this.bus.close().catch(() => {})
    await this.tags?.close?.()
    if (this.ownsStore) await this.store.close()
  }
}
