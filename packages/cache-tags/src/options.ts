import {
  describeValue,
  durationProblem,
  integerProblem,
  isPlainObject,
  unknownKeyProblem,
} from '@fastkey/fastify-cache/extension'
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
   * stored stale for a soft one). On masters without replicas 0 is exact.
   * @default derived from the detected topology: 0 when every master the versions live on has no
   * replica (one server, or a cluster without replicas); 100 with replicas, KeyDB active replicas,
   * Sentinel, or until the servers have answered (see README)
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
  /** `undefined`: derived from the detected topology (see `TagVersionProvider.clockSkewMs`). */
  clockSkewMs: number | undefined
  commandTimeoutMs: number
  memberIndex: boolean
}

export const DEFAULT_TAG_OPTIONS: ResolvedTagOptions = Object.freeze({
  versionTtlMs: 1_000,
  maxMemoTags: 10_000,
  tagTtlMs: 604_800_000,
  clockSkewMs: undefined,
  commandTimeoutMs: 200,
  memberIndex: false,
})

const KEYS = Object.keys(DEFAULT_TAG_OPTIONS) as Array<keyof ResolvedTagOptions>

/** Checks options (throwing `FST_CACHE_TAGS_INVALID_OPTION` naming the option) and applies defaults. */
export function resolveTagOptions(options: TagProviderOptions | undefined): ResolvedTagOptions {
  const fail = (key: string, problem: string) =>
    new errors.FST_CACHE_TAGS_INVALID_OPTION(`${key}: ${problem}`)
  if (options === undefined) return DEFAULT_TAG_OPTIONS
  if (!isPlainObject(options)) throw fail('options', `expected an object, got ${describeValue(options)}`)
  const unknown = unknownKeyProblem(options, KEYS)
  if (unknown) throw fail(unknown.key, unknown.problem)
  const resolved = { ...DEFAULT_TAG_OPTIONS }
  const check = (key: keyof ResolvedTagOptions, problem: string | undefined) => {
    if (problem !== undefined) throw fail(key, problem)
    resolved[key] = options[key] as never
  }
  const given = (key: keyof ResolvedTagOptions) => options[key] !== undefined
  if (given('versionTtlMs')) check('versionTtlMs', durationProblem(options.versionTtlMs, { allowZero: true }))
  if (given('clockSkewMs')) check('clockSkewMs', durationProblem(options.clockSkewMs, { allowZero: true }))
  if (given('tagTtlMs')) check('tagTtlMs', durationProblem(options.tagTtlMs, { integer: true }))
  if (given('commandTimeoutMs')) check('commandTimeoutMs', durationProblem(options.commandTimeoutMs))
  if (given('maxMemoTags')) check('maxMemoTags', integerProblem(options.maxMemoTags, 1))
  if (given('memberIndex'))
    check(
      'memberIndex',
      typeof options.memberIndex === 'boolean'
        ? undefined
        : `expected true or false, got ${describeValue(options.memberIndex)}`,
    )
  return Object.freeze(resolved)
}
