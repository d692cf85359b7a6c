/**
 * Operation histories for the invalidation races, and their checker.
 *
 * The data behind a key has versions. A write bumps the version and then invalidates (delete or tag);
 * a load reads the version current when it starts. The rule (DESIGN 9, invariant 2): a read that
 * starts after an invalidation resolved never returns a value loaded before that invalidation's write,
 * i.e. its version is never lower than the version the write produced.
 */

export interface Invalidation {
  key: string
  /** Version the write produced (the data was bumped before the invalidation started). */
  version: number
  start: number
  end: number
}

export interface Read {
  key: string
  /** Version returned; `undefined` for a miss (always allowed). */
  version: number | undefined
  start: number
  end: number
  /** Who read (instance, path), for the violation message. */
  by: string
}

/** Records with one clock: `performance.now()` by default, or a logical counter for the fuzz. */
export class History {
  readonly invalidations: Invalidation[] = []
  readonly reads: Read[] = []
  readonly #clock: () => number

  constructor(clock: () => number = () => performance.now()) {
    this.#clock = clock
  }

  now(): number {
    return this.#clock()
  }

  /** Bumps the data (via `write`, returning the new version), then runs the invalidation; records both. */
  async invalidate(key: string, write: () => number, invalidate: () => Promise<unknown>): Promise<void> {
    const version = write()
    const start = this.#clock()
    await invalidate()
    this.invalidations.push({ key, version, start, end: this.#clock() })
  }

  /** Runs a read returning a version (or undefined) and records it. */
  async read(key: string, by: string, run: () => Promise<number | undefined>): Promise<number | undefined> {
    const start = this.#clock()
    const version = await run()
    this.reads.push({ key, version, start, end: this.#clock(), by })
    return version
  }

  /** Every read that broke the rule, described. */
  violations(): string[] {
    const byKey = new Map<string, Invalidation[]>()
    for (const inv of this.invalidations) {
      const list = byKey.get(inv.key)
      if (list) list.push(inv)
      else byKey.set(inv.key, [inv])
    }
    const out: string[] = []
    for (const read of this.reads) {
      if (read.version === undefined) continue
      for (const inv of byKey.get(read.key) ?? []) {
        if (inv.end < read.start && read.version < inv.version) {
          out.push(
            `${read.by} read ${read.key} v${read.version} at ${read.start}, after the invalidation to v${inv.version} resolved at ${inv.end}`,
          )
          break
        }
      }
    }
    return out
  }
}
