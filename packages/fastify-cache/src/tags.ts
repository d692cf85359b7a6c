/**
 * The extension point through which a tag provider (@fastkey/cache-tags) plugs into the engine.
 * The engine stays free of tag semantics: it asks for a capture before a load, seals it with the
 * final tags when it stores the result, and asks for a verdict on the recorded string when it reads.
 */

/** What a read decides about an entry given its recorded tag versions. */
export type TagVerdict = 'valid' | 'stale' | 'invalid'

/** Opaque state a provider keeps between `begin` and `seal` (e.g. versions read before the load). */
export type TagCapture = unknown

/** What is about to be stored, for providers that index entries per tag (KeyDB member index). */
export interface SealedEntry {
  /** The engine's key of the entry (the store adds its namespace). */
  key: string
  /** How long the store will keep it, ms. */
  ttlMs: number
}

export interface TagProvider {
  /**
   * Called once by the engine that uses the provider, before any other call: gives access to the
   * engine's store, bus and events (e.g. to evict memoised versions when another instance invalidates).
   */
  attach?(cache: import('./cache.js').Cache): void
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
  /**
   * Called with the final tags when the result is about to be stored. Resolves the string the entry
   * records, or `undefined` when an invalidation raced the load: the engine then does not store it.
   */
  seal(capture: TagCapture, tags: readonly string[], entry?: SealedEntry): Promise<string | undefined>
  /**
   * Called on every read of an entry that recorded tags. May answer synchronously (memoised versions)
   * to keep the hit path free of a second round trip. A rejection counts as 'invalid' (fail safe).
   */
  check(recorded: string): TagVerdict | Promise<TagVerdict>
  /** Released when the engine closes. */
  close?(): Promise<void>
}
