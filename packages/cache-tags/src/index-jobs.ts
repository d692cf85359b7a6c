import type { KeydbStore } from '@fastkey/fastify-cache'
import { MemberIndex, serverInfo, useMemberIndex } from './member-index.js'
import type { ResolvedTagOptions } from './options.js'

type Report = (operation: 'set' | 'delete', error: unknown) => void

/**
 * Runs the KeyDB member index for a provider: detects the server once, then records fills and purges
 * hard-invalidated tags in the background (never on a request's path); `close()` waits for them.
 */
export class IndexJobs {
  readonly #store: KeydbStore
  readonly #report: Report
  readonly #background = new Set<Promise<unknown>>()
  #index: MemberIndex | undefined
  /** Settles once the server has been asked what it is. */
  readonly detected: Promise<void>

  constructor(store: KeydbStore, options: ResolvedTagOptions, report: Report) {
    this.#store = store
    this.#report = report
    this.detected = serverInfo(store.client, options.commandTimeoutMs).then((info) => {
      if (useMemberIndex(options.memberIndex, info))
        this.#index = new MemberIndex(store.client, store.namespace, options.tagTtlMs)
    })
    this.#track(this.detected)
  }

  /** Whether the server answered as KeyDB (until then, and on Redis, nothing is indexed). */
  get active(): boolean {
    return this.#index !== undefined
  }

  record(tags: readonly string[], entry: { key: string; ttlMs: number }): void {
    const index = this.#index
    if (!index) return
    this.#track(
      index
        .record(tags, this.#store.entryKey(entry.key), entry.ttlMs)
        .catch((error) => this.#report('set', error)),
    )
  }

  purge(tags: readonly string[]): void {
    const index = this.#index
    if (!index) return
    for (const tag of tags) this.#track(index.purge(tag).catch((error) => this.#report('delete', error)))
  }

  async close(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
  }

  #track(task: Promise<unknown>): void {
    this.#background.add(task)
    task.finally(() => this.#background.delete(task))
  }
}
