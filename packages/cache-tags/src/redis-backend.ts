import { randomBytes } from 'node:crypto'
import { withDeadline } from '@fastkey/fastify-cache'
import type { Cluster, Redis } from 'ioredis'
import type { VersionBackend } from './backend.js'
import { errors } from './errors.js'
import { scripts, type TagScriptName } from './scripts.js'
import { type CapturedTag, invalidatedAt, type TagVersions } from './versions.js'

type Client = Redis | Cluster
type ScriptClient = Client & {
  [K in TagScriptName]: (...args: Array<string | number>) => Promise<unknown>
}

export interface RedisVersionsOptions {
  client: Client
  namespace: string
  tagTtlMs: number
  clockSkewMs: number
  commandTimeoutMs: number
}

/**
 * Tag versions in KeyDB/Redis: `<ns>:t:{<tag>}` (hard) and `<ns>:t:{<tag>}:s` (soft). Both keys of a
 * tag share a hash slot; different tags spread over the cluster. On a cluster every call carries one
 * tag; on a single server one call carries them all (one round trip).
 */
export class RedisVersions implements VersionBackend {
  readonly kind = 'keydb'
  readonly #client: ScriptClient
  readonly #namespace: string
  readonly #cluster: boolean
  readonly #tagTtlMs: number
  readonly #skewUs: number
  readonly #timeoutMs: number

  constructor(options: RedisVersionsOptions) {
    this.#client = options.client as ScriptClient
    this.#namespace = options.namespace
    this.#cluster = (options.client as Cluster).isCluster === true
    this.#tagTtlMs = options.tagTtlMs
    this.#skewUs = options.clockSkewMs * 1000
    this.#timeoutMs = options.commandTimeoutMs
    for (const [name, lua] of Object.entries(scripts)) {
      if (!(name in options.client)) options.client.defineCommand(name, { lua })
    }
  }

  hardKey(tag: string): string {
    return `${this.#namespace}:t:{${tag}}`
  }

  softKey(tag: string): string {
    return `${this.#namespace}:t:{${tag}}:s`
  }

  /** The app's monotonic clock: only durations measured with it are compared with the server's clock. */
  mark(): number {
    return performance.now()
  }

  async capture(tags: readonly string[], since: number | undefined): Promise<Map<string, CapturedTag>> {
    const groups = this.#groups(tags)
    const replies = (await this.#deadline(
      'capture',
      Promise.all(
        groups.map((group) =>
          this.#client.fktagCapture(
            group.length * 2,
            ...group.flatMap((tag) => [this.hardKey(tag), this.softKey(tag)]),
            suffix(),
            this.#tagTtlMs,
          ),
        ),
      ),
    )) as string[][]
    const elapsedUs = since === undefined ? 0 : (performance.now() - since) * 1000
    const out = new Map<string, CapturedTag>()
    groups.forEach((group, g) => {
      const reply = replies[g]!
      // The server's clock when the load began, bounded below: its time now minus everything that can
      // have elapsed since (measured by the app's monotonic clock, from before the load to this reply),
      // minus the allowed skew between servers (multi-master, failover).
      const threshold = Number(reply[reply.length - 1]) - elapsedUs - this.#skewUs
      group.forEach((tag, i) => {
        const hard = reply[2 * i]!
        const soft = reply[2 * i + 1]!
        out.set(tag, {
          hard,
          soft,
          hardSince: since !== undefined && (invalidatedAt(hard) ?? -1) >= threshold,
          softSince: since !== undefined && (invalidatedAt(soft) ?? -1) >= threshold,
        })
      })
    })
    return out
  }

  async read(tags: readonly string[]): Promise<Map<string, TagVersions>> {
    const groups = this.#groups(tags)
    const replies = await this.#deadline(
      'read',
      Promise.all(
        groups.map((group) =>
          this.#client.mget(group.flatMap((tag) => [this.hardKey(tag), this.softKey(tag)])),
        ),
      ),
    )
    const out = new Map<string, TagVersions>()
    groups.forEach((group, g) => {
      const reply = replies[g]!
      group.forEach((tag, i) => {
        out.set(tag, { hard: reply[2 * i] ?? '', soft: reply[2 * i + 1] ?? '' })
      })
    })
    return out
  }

  async invalidate(tags: readonly string[], mode: 'soft' | 'hard'): Promise<void> {
    const key = mode === 'hard' ? (tag: string) => this.hardKey(tag) : (tag: string) => this.softKey(tag)
    await this.#deadline(
      'invalidate',
      Promise.all(
        this.#groups(tags).map((group) =>
          this.#client.fktagInvalidate(group.length, ...group.map(key), suffix(), this.#tagTtlMs),
        ),
      ),
    )
  }

  /** One group per tag on a cluster (one slot per call), a single group on one server. */
  #groups(tags: readonly string[]): Array<readonly string[]> {
    return this.#cluster ? tags.map((tag) => [tag]) : [tags]
  }

  #deadline<T>(operation: string, promise: Promise<T>): Promise<T> {
    return withDeadline(
      promise,
      this.#timeoutMs,
      () => new errors.FST_CACHE_TAGS_TIMEOUT(operation, this.#timeoutMs),
    )
  }
}

/** Makes versions unique even when two are written in the same microsecond (or on two masters). */
function suffix(): string {
  return randomBytes(6).toString('base64url')
}
