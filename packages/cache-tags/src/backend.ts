import type { CapturedTag, TagVersions } from './versions.js'

/** Where tag versions live: KeyDB/Redis (shared by every instance) or in process (memory store). */
export interface VersionBackend {
  readonly kind: 'keydb' | 'memory'
  /**
   * A point in time taken before a load whose tags are not known yet (route tags computed from the
   * response). Only compared with the backend's own clock, never with another machine's.
   */
  mark(): number
  /**
   * The versions a fill records (missing ones are created, live ones kept alive: fills only). With
   * `since`, also tells per tag whether an invalidation wrote its versions after that mark.
   */
  capture(tags: readonly string[], since: number | undefined): Promise<Map<string, CapturedTag>>
  /** Current versions, read only (the read path); a missing key reads as ''. */
  read(tags: readonly string[]): Promise<Map<string, TagVersions>>
  /** Synchronous read, for a backend that needs no round trip (then nothing is memoised). */
  readSync?(tag: string): TagVersions
  /** Gives every tag a new version: one single-key write per tag. */
  invalidate(tags: readonly string[], mode: 'soft' | 'hard'): Promise<void>
}
