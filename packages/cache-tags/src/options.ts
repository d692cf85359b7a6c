import { errors } from './errors.js'

export interface TagProviderOptions {
  /**
   * How long an instance trusts the tag versions it read, ms: within it, a read of a tagged entry
   * costs no round trip for its tags. Invalidations evict memoised versions on every instance through
   * the bus at once, and nothing is memoised while the bus is down, so this only bounds staleness if a
   * bus message were lost without the subscription noticing. `0` = read versions on every read.
   * Ignored with the memory store (versions are in process). @default 1_000
   */
  versionTtlMs?: number
  /** Most tags whose versions one instance memoises (least recently read go first). @default 10_000 */
  maxMemoTags?: number
  /**
   * How long a tag's version keys live in KeyDB after they were last written or used by a fill, ms.
   * Keep it longer than your longest entry lifetime (ttl + stale windows): a version that expired
   * earlier makes its entries miss (never serve stale), at the cost of extra loads. @default 604_800_000 (7 days)
   */
  tagTtlMs?: number
  /**
   * Largest clock difference between KeyDB servers that may write the same tag (multi-master active
   * replication, failover), ms. Routes whose tags come from the response cannot capture versions
   * before the handler runs; their fills compare invalidation times with the server's clock instead,
   * and treat an invalidation up to this much before the load as having raced it (not stored, or
   * stored stale for a soft one). On a single master 0 is exact. @default 100
   */
  clockSkewMs?: number
  /** Deadline of every tag version command, ms. @default 200 */
  commandTimeoutMs?: number
  /**
   * KeyDB only: keep an index of entry keys per tag (members expire with their entries through
   * `EXPIREMEMBER`), so a hard invalidation also frees the entries' memory at once instead of letting
   * them expire. Enabled only when the server answers as KeyDB; Redis keeps lazy expiry. Needs the
   * engine to pass the entry key to `seal` (see README). @default false
   */
  memberIndex?: boolean
}

export interface ResolvedTagOptions {
  versionTtlMs: number
  maxMemoTags: number
  tagTtlMs: number
  clockSkewMs: number
  commandTimeoutMs: number
  memberIndex: boolean
}

export const DEFAULT_TAG_OPTIONS: ResolvedTagOptions = Object.freeze({
  versionTtlMs: 1_000,
  maxMemoTags: 10_000,
  tagTtlMs: 604_800_000,
  clockSkewMs: 100,
  commandTimeoutMs: 200,
  memberIndex: false,
})

const KEYS = Object.keys(DEFAULT_TAG_OPTIONS) as Array<keyof ResolvedTagOptions>

/** Checks options (throwing `FST_CACHE_TAGS_INVALID_OPTION` naming the option) and applies defaults. */
export function resolveTagOptions(options: TagProviderOptions | undefined): ResolvedTagOptions {
  const fail = (what: string) => new errors.FST_CACHE_TAGS_INVALID_OPTION(what)
  if (options === undefined) return DEFAULT_TAG_OPTIONS
  if (typeof options !== 'object' || options === null)
    throw fail(`expected an object, got ${String(options)}`)
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key as keyof ResolvedTagOptions)) throw fail(`${key}: unknown option`)
  }
  const resolved = { ...DEFAULT_TAG_OPTIONS }
  const ms = (key: 'versionTtlMs' | 'clockSkewMs', value: unknown) => {
    if (typeof value !== 'number' || !(value >= 0) || value > 2 ** 31 - 1)
      throw fail(`${key}: expected a number of ms >= 0, got ${String(value)}`)
    resolved[key] = value
  }
  const positive = (key: 'maxMemoTags' | 'tagTtlMs' | 'commandTimeoutMs', value: unknown) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
      throw fail(`${key}: expected a positive integer, got ${String(value)}`)
    resolved[key] = value
  }
  if (options.versionTtlMs !== undefined) ms('versionTtlMs', options.versionTtlMs)
  if (options.clockSkewMs !== undefined) ms('clockSkewMs', options.clockSkewMs)
  if (options.maxMemoTags !== undefined) positive('maxMemoTags', options.maxMemoTags)
  if (options.tagTtlMs !== undefined) positive('tagTtlMs', options.tagTtlMs)
  if (options.commandTimeoutMs !== undefined) positive('commandTimeoutMs', options.commandTimeoutMs)
  if (options.memberIndex !== undefined) {
    if (typeof options.memberIndex !== 'boolean')
      throw fail(`memberIndex: expected a boolean, got ${String(options.memberIndex)}`)
    resolved.memberIndex = options.memberIndex
  }
  return Object.freeze(resolved)
}
