import type { TagVerdict } from '@fastkey/fastify-cache/extension'

/**
 * A tag's current versions. `hard` changes on hard invalidations only, `soft` on soft ones only: an
 * entry whose recorded `hard` differs is gone, one whose recorded `soft` differs is stale. Each is a
 * unique opaque string, compared for equality only ('' = the version key does not exist).
 *
 * Format: `<kind><at>.<random>`, kind `c` (created on first use) or `i` (written by an invalidation),
 * `at` the backend's clock when written (server µs for KeyDB/Redis, a sequence number in memory). `at`
 * is read only to tell whether an invalidation happened during a load whose tags were unknown when it
 * started; validity is decided by equality alone.
 */
export interface TagVersions {
  hard: string
  soft: string
}

/**
 * What a fill reads: the versions, and whether they may have been invalidated after the load began
 * (written by an invalidation since, or recreated since while an invalidation cannot be ruled out).
 */
export interface CapturedTag extends TagVersions {
  hardSince: boolean
  softSince: boolean
}

/** A tag as recorded in an entry. */
export interface RecordedTag extends TagVersions {
  tag: string
}

/** Recorded in place of a soft version when a soft invalidation raced the load: the entry is stale at once. */
export const STALE_MARK = '~'

export const MISSING: TagVersions = Object.freeze({ hard: '', soft: '' })

/** The backend time at which an invalidation wrote `version`; `undefined` for created or missing ones. */
export function invalidatedAt(version: string): number | undefined {
  if (version.charCodeAt(0) !== 105 /* i */) return undefined
  return writtenAt(version)
}

/**
 * The backend time at which `version` was written, by an invalidation (`i`) or by a fill that found
 * the tag without a version (`c`); `undefined` for anything else.
 */
export function writtenAt(version: string): number | undefined {
  const kind = version.charCodeAt(0)
  if (kind !== 105 /* i */ && kind !== 99 /* c */) return undefined
  const dot = version.indexOf('.')
  const digits = dot < 0 ? version.slice(1) : version.slice(1, dot)
  if (digits === '') return undefined
  const at = Number(digits)
  return Number.isFinite(at) ? at : undefined
}

/** Recorded form: `tag hard soft tag hard soft ...` (tags and versions never contain spaces). */
export function encodeRecorded(tags: readonly RecordedTag[]): string {
  let out = ''
  for (const t of tags) out += `${out === '' ? '' : ' '}${t.tag} ${t.hard} ${t.soft}`
  return out
}

/** Parses a recorded string; `undefined` when it is not one of ours (then the entry is invalid). */
export function decodeRecorded(recorded: string): RecordedTag[] | undefined {
  const parts = recorded.split(' ')
  if (parts.length % 3 !== 0) return undefined
  const tags: RecordedTag[] = []
  for (let i = 0; i < parts.length; i += 3) {
    const tag = parts[i]!
    const hard = parts[i + 1]!
    const soft = parts[i + 2]!
    if (tag === '' || hard === '' || soft === '') return undefined
    tags.push({ tag: flat(tag), hard: flat(hard), soft: flat(soft) })
  }
  return tags
}

/**
 * A copy of `s` that V8 stores flat: `split` returns slices of the whole string, and a slice used as
 * a Map key or compared on every read costs several times a flat string (measured: ~100 vs ~20 ns).
 * Parsed forms are cached, so this runs once per recorded string. Tags and versions are ASCII.
 */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1')
}

/** Any hard version changed: invalid. Else any soft version changed: stale. Else valid. */
export function verdictOf(
  recorded: readonly RecordedTag[],
  current: (tag: string) => TagVersions | undefined,
): TagVerdict {
  let verdict: TagVerdict = 'valid'
  for (const r of recorded) {
    const now = current(r.tag) ?? MISSING
    if (now.hard !== r.hard) return 'invalid'
    if (now.soft !== r.soft) verdict = 'stale'
  }
  return verdict
}

/**
 * What a fill records, from the versions read when its result is stored (`current`) and, for tags
 * known before the load, those read before it (`before`). Tags known before compare versions (exact);
 * the others rely on the backend's "invalidated since the load began". A hard invalidation during the
 * load: `undefined` (not stored). A soft one: recorded with `STALE_MARK`, so the entry is stale at once.
 */
export function recordFill(
  tags: readonly string[],
  current: ReadonlyMap<string, CapturedTag>,
  before: ReadonlyMap<string, CapturedTag> | undefined,
): { recorded: string; softRaced: boolean } | undefined {
  const recorded: RecordedTag[] = []
  let softRaced = false
  for (const tag of tags) {
    const now = current.get(tag)!
    const then = before?.get(tag)
    if (then ? then.hard !== now.hard : now.hardSince) return undefined
    const soft = then ? then.soft !== now.soft : now.softSince
    softRaced ||= soft
    recorded.push({ tag, hard: now.hard, soft: soft ? STALE_MARK : now.soft })
  }
  return { recorded: encodeRecorded(recorded), softRaced }
}
