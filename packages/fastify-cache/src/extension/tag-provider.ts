/**
 * The extension point through which a tag provider (@fastkey/cache-tags) plugs into the engine. The
 * engine stays free of tag semantics: it asks for a capture before a load, seals it with the final
 * tags when it stores the result, and asks for a verdict on the recorded string when it reads.
 */
import type { StoreLocation } from '../stores/types.js'

/** What a read decides about an entry given its recorded tag versions. */
export type TagVerdict = 'valid' | 'stale' | 'invalid'

/** Opaque state a provider keeps between `begin` and `seal` (e.g. versions read before the load). */
export type TagCapture = unknown

/** What is about to be stored, for providers that index entries per tag (KeyDB member index). */
export interface SealedEntry {
  /** The engine's key of the entry (`context.store.entryKey(key)` gives the server-side key). */
  key: string
  /** How long the store will keep it, ms. */
  ttlMs: number
}

/**
 * How a seal ended: the string the entry records, or why it must not be stored. `raced`: an
 * invalidation happened during the load; `invalid-tags`: the tags break the provider's rules (the
 * engine counts a `skip`, the response is served as it is); `unavailable`: the provider could not read
 * its versions (it reported the failure through `context.report`).
 */
export type SealResult = { recorded: string } | { refused: 'raced' | 'invalid-tags' | 'unavailable' }

/** The engine's bus as a provider sees it: its own message kinds, confirmed broadcasts, gaps. */
export interface TagBus {
  /** False until the subscription is confirmed and after it drops (memoise nothing then). */
  readonly healthy: boolean
  /** Listens to messages of one kind (a single letter the engine does not use: k, d and c are taken). */
  on(kind: string, listener: (payload: string, fromSelf: boolean) => void): void
  /** Runs `listener` whenever the subscription is (re)established: drop anything memoised from the bus. */
  onReset(listener: () => void): void
  /**
   * Publishes a message of `kind` and resolves once the server handed it to every subscribed instance
   * (this instance's own copy came back), or after a short bound. Rejects when it could not be sent.
   */
  broadcast(kind: string, payload: string): Promise<void>
}

/** What the engine gives a provider when it attaches: no more than the provider needs. */
export interface TagContext {
  /** Where the engine's store keeps its data: keep the versions beside it. */
  readonly store: StoreLocation
  readonly bus: TagBus
  /** Reports a failed operation of the provider (counted, logged, and for store operations the breaker). */
  report(operation: 'read' | 'set' | 'delete' | 'invalidate' | 'publish', error: unknown): void
  /** Requests that start from now on must not join loads in flight (another instance invalidated). */
  forgetLoadsInFlight(): void
}

export interface TagProvider {
  /**
   * Called once by the engine that uses the provider, before any other call. Throws when the store's
   * location is not one the provider supports.
   */
  attach?(context: TagContext): void
  /**
   * Invalidates tags: 'hard' makes tagged entries misses, 'soft' makes them stale (stale-while-revalidate
   * and stale-if-error still apply). Rejects when it could not be recorded: never a silent success.
   */
  invalidate(tags: readonly string[], mode: 'soft' | 'hard'): Promise<void>
  /**
   * Checks tags given by the caller (service calls) before anything runs; throwing makes the call
   * fail with that error instead of serving an entry that could never be invalidated by those tags.
   */
  validate?(tags: readonly string[]): void
  /** Tag names recorded in an entry, for the optional response header (`surrogate-key`). */
  names?(recorded: string): readonly string[]
  /**
   * Called before the loader or handler runs. `tags` are given when known up front (service calls);
   * routes whose tags depend on the response pass `undefined`. Rejecting makes the engine skip storing.
   */
  begin(tags: readonly string[] | undefined): Promise<TagCapture>
  /** Called with the final tags when the result is about to be stored. */
  seal(capture: TagCapture, tags: readonly string[], entry?: SealedEntry): Promise<SealResult>
  /**
   * Called on every read of an entry that recorded tags. May answer synchronously (memoised versions)
   * to keep the hit path free of a second round trip. A rejection counts as 'invalid' (fail safe).
   */
  check(recorded: string): TagVerdict | Promise<TagVerdict>
  /** Released when the engine closes. */
  close?(): Promise<void>
}
