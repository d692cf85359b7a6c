import type { VersionBackend } from './backend.js'
import type { TagVersions } from './versions.js'

type Waiter = { resolve(versions: TagVersions): void; reject(error: unknown): void }

/**
 * Reads tag versions for the read path: the tags asked for during one event-loop turn go in one
 * request (one MGET on a single server), and a tag already being read is not read twice.
 */
export class VersionReader {
  readonly #backend: VersionBackend
  /** Called with what a batch brought back and the epoch when it was sent (to memoise it). */
  readonly #onRead: (versions: Map<string, TagVersions>, epoch: number) => void
  readonly #epoch: () => number
  #pending = new Map<string, Waiter[]>()
  #scheduled = false

  constructor(
    backend: VersionBackend,
    epoch: () => number,
    onRead: (versions: Map<string, TagVersions>, epoch: number) => void,
  ) {
    this.#backend = backend
    this.#epoch = epoch
    this.#onRead = onRead
  }

  read(tag: string): Promise<TagVersions> {
    return new Promise((resolve, reject) => {
      const waiters = this.#pending.get(tag)
      if (waiters) waiters.push({ resolve, reject })
      else this.#pending.set(tag, [{ resolve, reject }])
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(this.#flush)
      }
    })
  }

  #flush = (): void => {
    const pending = this.#pending
    this.#pending = new Map()
    this.#scheduled = false
    const epoch = this.#epoch()
    this.#backend.read([...pending.keys()]).then(
      (versions) => {
        this.#onRead(versions, epoch)
        for (const [tag, waiters] of pending) {
          const found = versions.get(tag) ?? { hard: '', soft: '' }
          for (const waiter of waiters) waiter.resolve(found)
        }
      },
      (error: unknown) => {
        for (const waiters of pending.values()) for (const waiter of waiters) waiter.reject(error)
      },
    )
  }
}
