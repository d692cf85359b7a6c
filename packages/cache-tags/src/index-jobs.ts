import { BackgroundTasks, readServerInfo, type StoreLocation } from '@fastkey/fastify-cache/extension'
import { MemberIndex, useMemberIndex } from './member-index.js'
import type { ResolvedTagOptions } from './options.js'

type Report = (operation: 'set' | 'delete', error: unknown) => void
type RedisLocation = Extract<StoreLocation, { kind: 'redis' }>

/**
 * Runs the KeyDB member index for a provider: detects the server once, then records fills and purges
 * hard-invalidated tags in the background (never on a request's path); `close()` waits for them.
 */
export class IndexJobs {
  readonly #store: RedisLocation
  readonly #report: Report
  readonly #background = new BackgroundTasks()
  #index: MemberIndex | undefined
  /** Settles once the server has been asked what it is. */
  readonly detected: Promise<void>

  constructor(store: RedisLocation, options: ResolvedTagOptions, report: Report) {
    this.#store = store
    this.#report = report
    this.detected = readServerInfo(store.client, options.commandTimeoutMs).then((info) => {
      if (useMemberIndex(options.memberIndex, info.server))
        this.#index = new MemberIndex(store.client, store.keyPrefix, options.tagTtlMs)
    })
    this.#background.track(this.detected)
  }

  /** Whether the server answered as KeyDB (until then, and on Redis, nothing is indexed). */
  get active(): boolean {
    return this.#index !== undefined
  }

  record(tags: readonly string[], entry: { key: string; ttlMs: number }): void {
    const index = this.#index
    if (!index) return
    this.#background.track(
      index
        .record(tags, this.#store.entryKey(entry.key), entry.ttlMs)
        .catch((error) => this.#report('set', error)),
    )
  }

  purge(tags: readonly string[]): void {
    const index = this.#index
    if (!index) return
    for (const tag of tags)
      this.#background.track(index.purge(tag).catch((error) => this.#report('delete', error)))
  }

  close(): Promise<void> {
    return this.#background.drain()
  }
}
