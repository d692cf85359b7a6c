import { TickBatch } from '@fastkey/fastify-cache/extension'
import type { VersionBackend } from './backend.js'
import type { TagVersions } from './versions.js'

const NEVER_INVALIDATED: TagVersions = { hard: '', soft: '' }

/**
 * Reads tag versions for the read path: the tags asked for during one event-loop turn go in one
 * request (one MGET on a single server), and a tag already being read is not read twice.
 */
export class VersionReader {
  readonly #batch: TickBatch<TagVersions>

  /**
   * `onRead` gets what a batch brought back and the `epoch()` taken when it was sent (to memoise it
   * only if no invalidation was heard meanwhile).
   */
  constructor(
    backend: VersionBackend,
    epoch: () => number,
    onRead: (versions: Map<string, TagVersions>, epoch: number) => void,
  ) {
    this.#batch = new TickBatch((tags, settle, fail) => {
      const sentAt = epoch()
      backend.read(tags).then(
        (versions) => {
          onRead(versions, sentAt)
          for (const tag of tags) settle(tag, versions.get(tag) ?? NEVER_INVALIDATED)
        },
        (error: unknown) => {
          for (const tag of tags) fail(tag, error)
        },
      )
    })
  }

  read(tag: string): Promise<TagVersions> {
    return this.#batch.get(tag)
  }
}
