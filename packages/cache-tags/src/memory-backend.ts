import type { VersionBackend } from './backend.js'
import { type CapturedTag, invalidatedAt, MISSING, type TagVersions, writtenAt } from './versions.js'

/** Most tags the in-process backend keeps; the least recently used go first (their entries then miss). */
export const MEMORY_MAX_TAGS = 100_000

/**
 * Tag versions for the memory store (embedded mode): the same semantics as KeyDB, with a sequence
 * number as the clock, which makes "invalidated during the load" exact. One instance is shared by
 * every engine on one MemoryStore, as instances sharing one KeyDB share its version keys.
 */
export class MemoryVersions implements VersionBackend {
  readonly kind = 'memory'
  readonly #tags = new Map<string, TagVersions>()
  readonly #maxTags: number
  #seq = 0
  /** Clock value of the last time a tag was forgotten (beyond the bound), with its invalidations. */
  #lostAt = -1

  constructor(maxTags = MEMORY_MAX_TAGS) {
    this.#maxTags = maxTags
  }

  mark(): number {
    return this.#seq
  }

  async capture(tags: readonly string[], since: number | undefined): Promise<Map<string, CapturedTag>> {
    const out = new Map<string, CapturedTag>()
    for (const tag of tags) {
      let versions = this.#tags.get(tag)
      if (versions) this.#tags.delete(tag)
      else {
        const created = `c${++this.#seq}`
        versions = { hard: created, soft: created }
      }
      this.#keep(tag, versions)
      out.set(tag, {
        ...versions,
        hardSince: since !== undefined && this.#mayHaveChanged(versions.hard, since),
        softSince: since !== undefined && this.#mayHaveChanged(versions.soft, since),
      })
    }
    return out
  }

  async read(tags: readonly string[]): Promise<Map<string, TagVersions>> {
    return new Map(tags.map((tag) => [tag, this.readSync(tag)]))
  }

  readSync(tag: string): TagVersions {
    return this.#tags.get(tag) ?? MISSING
  }

  async invalidate(tags: readonly string[], mode: 'soft' | 'hard'): Promise<void> {
    for (const tag of tags) {
      const version = `i${++this.#seq}`
      const current = this.#tags.get(tag)
      this.#tags.delete(tag)
      // A hard invalidation leaves the soft version alone: a later soft one must not revive anything.
      this.#keep(
        tag,
        mode === 'hard'
          ? { hard: version, soft: current?.soft ?? version }
          : { hard: current?.hard ?? version, soft: version },
      )
    }
  }

  /**
   * Whether `version` may have been invalidated after `since`: written by an invalidation since, or
   * created since while a tag was forgotten meanwhile (it may have been this one, invalidated first).
   * Exact: nothing is lost here without `#keep` knowing.
   */
  #mayHaveChanged(version: string, since: number): boolean {
    if ((invalidatedAt(version) ?? -1) > since) return true
    return (writtenAt(version) ?? -1) > since && this.#lostAt > since
  }

  #keep(tag: string, versions: TagVersions): void {
    this.#tags.set(tag, versions)
    if (this.#tags.size > this.#maxTags) {
      this.#tags.delete(this.#tags.keys().next().value as string)
      this.#lostAt = ++this.#seq
    }
  }
}

const shared = new WeakMap<object, MemoryVersions>()

/** The backend of one in-process store (its location's `scope`), shared by every engine using it. */
export function memoryVersionsOf(scope: object): MemoryVersions {
  let versions = shared.get(scope)
  if (!versions) {
    versions = new MemoryVersions()
    shared.set(scope, versions)
  }
  return versions
}
