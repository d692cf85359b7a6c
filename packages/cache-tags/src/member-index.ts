import { randomBytes } from 'node:crypto'
import { defineScripts, type ServerInfo } from '@fastkey/fastify-cache/extension'
import type { Cluster, Redis } from 'ioredis'
import { indexScripts } from './scripts.js'

type Client = Redis | Cluster

/** The decision: the index runs only when asked for and the server is KeyDB (it has EXPIREMEMBER). */
export function useMemberIndex(requested: boolean, server: ServerInfo['server'] | undefined): boolean {
  return requested && server === 'keydb'
}

const PAGE = 256

/**
 * KeyDB extra: the entry keys of each tag, `<ns>:ti:{<tag>}` (same slot as the tag's versions), so a
 * hard invalidation can unlink its entries at once. Correctness never depends on it: the versions have
 * already made those entries misses; this only frees their memory before their TTL would.
 */
export class MemberIndex {
  readonly #client: Client & { fktagIndex?: (...args: Array<string | number>) => Promise<unknown> }
  readonly #keyPrefix: string
  readonly #tagTtlMs: number

  constructor(client: Client, keyPrefix: string, tagTtlMs: number) {
    this.#client = client
    this.#keyPrefix = keyPrefix
    this.#tagTtlMs = tagTtlMs
    defineScripts(client, indexScripts)
  }

  key(tag: string): string {
    return `${this.#keyPrefix}:ti:{${tag}}`
  }

  async record(tags: readonly string[], entryKey: string, ttlMs: number): Promise<void> {
    await Promise.all(
      tags.map((tag) => this.#client.fktagIndex!(this.key(tag), entryKey, Math.ceil(ttlMs), this.#tagTtlMs)),
    )
  }

  /**
   * Unlinks every entry recorded under `tag`. The set is first renamed (same slot), so entries filled
   * from now on start a new set; the detached one is walked page by page (SSCAN, never KEYS), each
   * entry unlinked on its own slot. Resolves the number of entries removed.
   */
  async purge(tag: string): Promise<number> {
    const detached = `${this.key(tag)}:purge:${randomBytes(6).toString('base64url')}`
    try {
      await this.#client.rename(this.key(tag), detached)
    } catch {
      return 0 // no index for this tag (nothing filled since the last purge)
    }
    let removed = 0
    let cursor = '0'
    do {
      const [next, members] = await this.#client.sscan(detached, cursor, 'COUNT', PAGE)
      cursor = next
      const counts = await Promise.all(members.map((member) => this.#client.unlink(member)))
      removed += counts.reduce((a, b) => a + b, 0)
    } while (cursor !== '0')
    await this.#client.unlink(detached)
    return removed
  }
}
