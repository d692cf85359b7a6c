import { BUS_CLEAR, BUS_CONFIRM_MS, BUS_HOLDING } from '../bus/bus.js'
import { errors } from '../errors.js'
import type { EngineParts } from './parts.js'

/** Most keys plus tags held while the store cannot be reached; past it the replay clears everything. */
export const MAX_PENDING = 10_000

type Mode = 'soft' | 'hard'

type InvalidationParts = Pick<
  EngineParts,
  'store' | 'coherence' | 'failures' | 'signals' | 'tags' | 'bus'
> & {
  /** Fills in flight that an invalidation makes stale (`undefined`: every one). */
  forgetLoads(keys?: readonly string[]): void
  /** How often a replay is tried while invalidations are held, ms. */
  retryMs: number
}

/**
 * Deletes, tag invalidations and clears, on every instance. When the store cannot be reached the
 * invalidation is not lost: it is held in memory (bounded: beyond MAX_PENDING keys and tags the replay
 * becomes a clear of everything), counted (`pending` event), and the caller gets
 * FST_CACHE_INVALIDATION_PENDING. While anything is held this instance leaves the store and its L1
 * alone (requests go to the origin, nothing is stored) and its heartbeats say it is holding
 * (BUS_HOLDING), so its peers do the same (see bus/peers.ts); once the store answers, the held
 * invalidations are replayed and broadcast first, and only then does it read the store or send a
 * plain heartbeat, which releases the peers.
 */
export class Invalidations {
  readonly #parts: InvalidationParts
  #keys = new Set<string>()
  #tags = new Map<string, Mode>()
  #clear = false
  #replaying: Promise<boolean> | undefined
  #retry: NodeJS.Timeout | undefined

  constructor(parts: InvalidationParts) {
    this.#parts = parts
  }

  /** What is held: keys, tags, and whether a clear of everything is. */
  get counts(): { keys: number; tags: number; clear: boolean } {
    return { keys: this.#keys.size, tags: this.#tags.size, clear: this.#clear }
  }

  /** Whether invalidations are held (the store is then left alone). */
  get pending(): boolean {
    return this.#clear || this.#keys.size > 0 || this.#tags.size > 0
  }

  async delete(keys: readonly string[]): Promise<number> {
    const { store, coherence, failures, signals } = this.#parts
    coherence.invalidatedHere(keys)
    this.#parts.forgetLoads(keys)
    let removed: number
    try {
      await this.#replayFirst()
      removed = await store.delete(keys)
    } catch (error) {
      failures.report('delete', error)
      for (const key of keys) this.#keys.add(key)
      throw await this.#held(error)
    } finally {
      coherence.invalidatedHere(keys)
    }
    signals.deleted(keys)
    await coherence.publishKeys(keys, true, BUS_CONFIRM_MS)
    await this.#replicated(() => {
      for (const key of keys) this.#keys.add(key)
    })
    return removed
  }

  async invalidateTags(tags: readonly string[], mode: Mode): Promise<void> {
    const provider = this.#parts.tags!
    this.#parts.forgetLoads()
    const hold = () => {
      for (const tag of tags) if (this.#tags.get(tag) !== 'hard') this.#tags.set(tag, mode)
    }
    try {
      await this.#replayFirst()
      await provider.invalidate(tags, mode)
    } catch (error) {
      // Bad input (a TypeError, or a 500-coded error) is the caller's: nothing to keep.
      if (!unreachable(error)) throw error
      hold()
      throw await this.#held(error)
    }
    this.#parts.signals.invalidated(tags, mode)
    await this.#replicated(hold)
  }

  async clear(): Promise<number> {
    const { store, coherence, failures, bus } = this.#parts
    coherence.invalidatedHere(undefined)
    this.#parts.forgetLoads()
    let removed: number
    try {
      await this.#replayFirst()
      removed = await store.clear()
    } catch (error) {
      failures.report('clear', error)
      this.#clear = true
      throw await this.#held(error)
    } finally {
      coherence.invalidatedHere(undefined)
    }
    await bus.publish(BUS_CLEAR, '', BUS_CONFIRM_MS).catch((error) => failures.report('publish', error))
    await this.#replicated(() => {
      this.#clear = true
    })
    return removed
  }

  /**
   * After an invalidation the master applied (and the instances on it heard): waits for its replicas.
   * Unconfirmed, it is held like one the store refused, so the caller is never told "done" while an
   * instance reading a replica or the other KeyDB master can still read the old entry.
   */
  async #replicated(hold: () => void): Promise<void> {
    try {
      await this.#parts.store.awaitReplicas?.()
    } catch (error) {
      this.#parts.failures.report('replicate', error)
      hold()
      throw await this.#held(error)
    }
  }

  /**
   * Tries to replay what is held: resolves true when nothing is held any more. Called on a timer
   * while anything is held, when the bus subscription comes back, and before any new invalidation.
   */
  replay(): Promise<boolean> {
    if (!this.pending) return Promise.resolve(true)
    this.#replaying ??= this.#replayHeld().finally(() => {
      this.#replaying = undefined
    })
    return this.#replaying
  }

  /** What is still held at close: lost with this process (logged). */
  close(): void {
    clearInterval(this.#retry)
    if (!this.pending) return
    this.#parts.failures.report(
      'close',
      new Error(`closing with ${this.#describe()} not applied: lost (entries expire by their TTL)`),
    )
  }

  async #replayFirst(): Promise<void> {
    if (this.pending && !(await this.replay()))
      throw new Error('the held invalidations could not be replayed')
  }

  async #replayHeld(): Promise<boolean> {
    const { store, coherence, failures, signals, tags: provider, bus } = this.#parts
    const [keys, tags, clear] = [[...this.#keys], [...this.#tags], this.#clear]
    try {
      if (clear) {
        await store.clear()
        await bus.publish(BUS_CLEAR, '', BUS_CONFIRM_MS)
      } else {
        if (keys.length > 0) {
          await store.delete(keys)
          await coherence.publishKeys(keys, true, BUS_CONFIRM_MS)
        }
        for (const mode of ['hard', 'soft'] as const) {
          const ofMode = tags.filter(([, m]) => m === mode).map(([tag]) => tag)
          // In slices a provider accepts in one call (cache-tags: 1,000).
          for (let i = 0; i < ofMode.length; i += 500)
            await provider!.invalidate(ofMode.slice(i, i + 500), mode)
        }
      }
      await store.awaitReplicas?.()
    } catch (error) {
      failures.report(isReplicationLag(error) ? 'replicate' : 'invalidate', error)
      return false
    }
    // Only what was replayed is dropped: invalidations queued meanwhile stay for the next replay.
    if (clear) this.#clear = false
    for (const key of keys) this.#keys.delete(key)
    for (const [tag, mode] of tags) if (this.#tags.get(tag) === mode) this.#tags.delete(tag)
    if (clear || keys.length > 0) signals.deleted(keys)
    for (const [tag, mode] of tags) signals.invalidated([tag], mode)
    this.#changed()
    if (!this.pending) {
      // Back on the store: what L1 held before is from before the replay.
      coherence.reset()
      bus.announce()
    }
    return !this.pending
  }

  /**
   * Queues what a failed call left, overflowing into a clear, and tells the peers (a holding
   * heartbeat, confirmed like an invalidation when the bus works: on a cluster with one master down
   * they see no gap of their own); resolves the caller's error.
   */
  async #held(cause: unknown): Promise<Error> {
    if (this.#keys.size + this.#tags.size > MAX_PENDING) {
      this.#clear = true
      this.#keys.clear()
      this.#tags.clear()
    }
    this.#changed()
    if (this.#retry === undefined) {
      this.#retry = setInterval(() => void this.replay(), this.#parts.retryMs)
      this.#retry.unref()
    }
    // The held invalidations are this instance's state now: L1 may hold what they invalidate.
    this.#parts.coherence.reset()
    const error = new errors.FST_CACHE_INVALIDATION_PENDING(this.#describe(), { cause })
    if (this.#parts.bus.healthy)
      await this.#parts.bus.publish(BUS_HOLDING, '', BUS_CONFIRM_MS).catch(() => {
        // The store is unreachable: the peers see the gap themselves.
      })
    return error
  }

  #changed(): void {
    this.#parts.signals.pending(this.#keys.size, this.#tags.size, this.#clear)
    if (!this.pending) {
      clearInterval(this.#retry)
      this.#retry = undefined
    }
  }

  #describe(): string {
    if (this.#clear) return 'a clear of every entry'
    return `${this.#keys.size} key(s) and ${this.#tags.size} tag(s)`
  }
}

function isReplicationLag(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'FST_CACHE_STORE_REPLICATION'
}

/**
 * Whether a failed invalidation means the store could not be reached (so it is kept), rather than bad
 * input: a TypeError or an error coded with status 500 is the caller's mistake.
 */
function unreachable(error: unknown): boolean {
  if (error instanceof TypeError) return false
  const status = (error as { statusCode?: unknown } | null)?.statusCode
  return typeof status !== 'number' || status >= 503
}
