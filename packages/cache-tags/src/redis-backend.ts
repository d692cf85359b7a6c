import { randomBytes } from 'node:crypto'
import { defineScripts, withDeadline } from '@fastkey/fastify-cache/extension'
import type { Cluster, Redis } from 'ioredis'
import type { VersionBackend } from './backend.js'
import { errors } from './errors.js'
import { scripts, type TagScriptName } from './scripts.js'
import { type CapturedTag, invalidatedAt, type TagVersions, writtenAt } from './versions.js'

type Client = Redis | Cluster
type ScriptClient = Client & {
  [K in TagScriptName]: (...args: Array<string | number>) => Promise<unknown>
}

export interface RedisVersionsOptions {
  client: Client
  keyPrefix: string
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
  readonly #keyPrefix: string
  readonly #cluster: boolean
  readonly #tagTtlMs: number
  #skewUs: number
  readonly #timeoutMs: number

  constructor(options: RedisVersionsOptions) {
    this.#client = options.client as ScriptClient
    this.#keyPrefix = options.keyPrefix
    this.#cluster = (options.client as Cluster).isCluster === true
    this.#tagTtlMs = options.tagTtlMs
    this.#skewUs = options.clockSkewMs * 1000
    this.#timeoutMs = options.commandTimeoutMs
    defineScripts(options.client, scripts)
  }

  /** The margin allowed between server clocks (see `TagProviderOptions.clockSkewMs`), ms. */
  get clockSkewMs(): number {
    return this.#skewUs / 1000
  }

  set clockSkewMs(ms: number) {
    this.#skewUs = ms * 1000
  }

  hardKey(tag: string): string {
    return `${this.#keyPrefix}:t:{${tag}}`
  }

  softKey(tag: string): string {
    return `${this.#keyPrefix}:t:{${tag}}:s`
  }

  /** The app's monotonic clock: only durations measured with it are compared with the server's clock. */
  mark(): number {
    return performance.now()
  }

  /**
   * The namespace's invalidation mark, `<ns>:tmark`: rewritten by every invalidation (before its tags
   * on a cluster), so its version tells when the last invalidation of any tag happened. A route fill
   * that finds a tag's version written during its load by a fill (`c`: the version had gone missing)
   * reads it to rule out an invalidation that was lost with the version (evicted, expired, deleted).
   */
  markKey(): string {
    return `${this.#keyPrefix}:tmark`
  }

  async capture(tags: readonly string[], since: number | undefined): Promise<Map<string, CapturedTag>> {
    const groups = this.#groups(tags)
    // Route fills on one server read the mark in the same script: same server, same TIME, one trip.
    const markInline = since !== undefined && !this.#cluster
    const replies = (await this.#deadline(
      'capture',
      Promise.all(
        groups.map((group) => {
          const keys = group.flatMap((tag) => [this.hardKey(tag), this.softKey(tag)])
          if (markInline) keys.push(this.markKey())
          return this.#client.fktagCapture(keys.length, ...keys, suffix(), this.#tagTtlMs)
        }),
      ),
    )) as string[][]
    const out = new Map<string, CapturedTag>()
    if (since === undefined) {
      groups.forEach((group, g) => {
        const reply = replies[g]!
        group.forEach((tag, i) => {
          out.set(tag, { hard: reply[2 * i]!, soft: reply[2 * i + 1]!, hardSince: false, softSince: false })
        })
      })
      return out
    }
    const recreated: Array<{ tag: CapturedTag; hard: boolean; soft: boolean }> = []
    let markQuiet = true
    groups.forEach((group, g) => {
      const reply = replies[g]!
      const threshold = this.#loadStart(Number(reply[reply.length - 1]), since)
      group.forEach((tag, i) => {
        const hard = reply[2 * i]!
        const soft = reply[2 * i + 1]!
        const captured: CapturedTag = {
          hard,
          soft,
          hardSince: (invalidatedAt(hard) ?? -1) >= threshold,
          softSince: (invalidatedAt(soft) ?? -1) >= threshold,
        }
        out.set(tag, captured)
        // Created during the load: the version was missing then, perhaps lost after an invalidation.
        const hardNew = !captured.hardSince && (writtenAt(hard) ?? -1) >= threshold
        const softNew = !captured.softSince && (writtenAt(soft) ?? -1) >= threshold
        if (hardNew || softNew) recreated.push({ tag: captured, hard: hardNew, soft: softNew })
      })
      if (markInline) markQuiet = markQuiet && (writtenAt(reply[2 * group.length]!) ?? threshold) < threshold
    })
    if (recreated.length === 0) return out
    // A version recreated during the load counts as invalidated unless no invalidation at all happened
    // since the load began (the mark is older). Never "missing = never invalidated".
    const quiet = markInline ? markQuiet : await this.#markQuietSince(since)
    if (!quiet)
      for (const r of recreated) {
        if (r.hard) r.tag.hardSince = true
        if (r.soft) r.tag.softSince = true
      }
    return out
  }

  /**
   * The server's clock when the load that began at `since` (app monotonic clock) started, bounded
   * below: its time now minus everything that can have elapsed since (measured by the app's monotonic
   * clock, from before the load to this reply), minus the allowed skew between servers.
   */
  #loadStart(serverNowUs: number, since: number): number {
    return serverNowUs - (performance.now() - since) * 1000 - this.#skewUs
  }

  /**
   * Cluster: reads the mark (its own slot, so its own call) after the tags were read, as invalidations
   * write it before their tags: an invalidation whose tag version was already lost has written it.
   */
  async #markQuietSince(since: number): Promise<boolean> {
    const reply = (await this.#deadline(
      'capture',
      this.#client.fktagCapture(1, this.markKey(), suffix(), this.#tagTtlMs),
    )) as string[]
    const threshold = this.#loadStart(Number(reply[1]), since)
    return (writtenAt(reply[0]!) ?? threshold) < threshold
  }

  /**
   * Creates the invalidation mark if it is missing (at start: a namespace nobody invalidated yet has
   * one from the first moment, so the first fills of new tags can be proven quiet).
   */
  async ensureMark(): Promise<void> {
    await this.#deadline('capture', this.#client.fktagCapture(1, this.markKey(), suffix(), this.#tagTtlMs))
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
    const write = (keys: string[]) =>
      this.#client.fktagInvalidate(keys.length, ...keys, suffix(), this.#tagTtlMs)
    await this.#deadline(
      'invalidate',
      this.#cluster
        ? // The mark first (see capture): a fill that finds a tag's version lost then sees the mark moved.
          write([this.markKey()]).then(() => Promise.all(tags.map((tag) => write([key(tag)]))))
        : write([...tags.map(key), this.markKey()]),
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
