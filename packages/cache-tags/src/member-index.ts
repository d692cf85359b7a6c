import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

type Client = Redis | Cluster

/**
 * Whether `INFO server` text comes from KeyDB. Recognised by what only KeyDB prints (a `cluster_mget`
 * feature, `availability_zone:`, an `# KeyDB` section or `mvcc_depth:`), never by `redis_version`,
 * which KeyDB fills with its own version (and `version-override` with anything).
 */
export function isKeydbInfo(info: string): boolean {
  return (
    /^features:.*\bcluster_mget\b/m.test(info) ||
    /^availability_zone:/m.test(info) ||
    /^#\s*keydb\s*$/im.test(info) ||
    /^mvcc_depth:/m.test(info)
  )
}

/** The decision: the index runs only when asked for and the server is KeyDB (it has EXPIREMEMBER). */
export function useMemberIndex(requested: boolean, info: string | undefined): boolean {
  return requested && info !== undefined && isKeydbInfo(info)
}

/** `INFO server` of the client's server (one master of a cluster); `undefined` when it cannot answer. */
export async function serverInfo(client: Client, timeoutMs: number): Promise<string | undefined> {
  const target = (client as Cluster).isCluster ? (client as Cluster).nodes('master')[0] : (client as Redis)
  if (!target) return undefined
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      target.info('server'),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs)
      }),
    ])
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Records the entry key in the tag's index set; the member expires with the entry (KeyDB
 * `EXPIREMEMBER ... ms`), the set lives as long as the tag's versions. KEYS[1] index set.
 * ARGV[1] entry key, ARGV[2] entry ttl ms, ARGV[3] set ttl ms.
 */
const RECORD = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIREMEMBER', KEYS[1], ARGV[1], ARGV[2], 'ms')
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) / 2 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`

const PAGE = 256

/**
 * KeyDB extra: the entry keys of each tag, `<ns>:ti:{<tag>}` (same slot as the tag's versions), so a
 * hard invalidation can unlink its entries at once. Correctness never depends on it: the versions have
 * already made those entries misses; this only frees their memory before their TTL would.
 */
export class MemberIndex {
  readonly #client: Client & { fktagIndex?: (...args: Array<string | number>) => Promise<unknown> }
  readonly #namespace: string
  readonly #tagTtlMs: number

  constructor(client: Client, namespace: string, tagTtlMs: number) {
    this.#client = client
    this.#namespace = namespace
    this.#tagTtlMs = tagTtlMs
    if (!('fktagIndex' in client)) client.defineCommand('fktagIndex', { numberOfKeys: 1, lua: RECORD })
  }

  key(tag: string): string {
    return `${this.#namespace}:ti:{${tag}}`
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
