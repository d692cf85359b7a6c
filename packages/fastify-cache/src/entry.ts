import { createHash } from 'node:crypto'

/**
 * A cache entry as stored in KeyDB: a small binary header followed by the body bytes, read in one GET.
 * Windows are durations, never timestamps: freshness is decided from the remaining TTL the store
 * reports, so app instances with skewed clocks reach the same decision.
 *
 * Layout (little endian):
 *   u8 magic 0xfc | u8 format 1 | u8 flags | u16 status | f64 freshMs | f64 staleMs | f64 graceMs
 *   | u16 len + content-type | u16 len + etag | u32 len + tag versions | body
 */
const MAGIC = 0xfc
const FORMAT = 1
const FIXED = 3 + 2 + 8 * 3
const FLAG_NEGATIVE = 1

export interface CacheEntry {
  status: number
  contentType: string
  etag: string
  /** Tag versions recorded at fill time, encoded by the tag provider ('' when untagged). */
  tags: string
  /** Fresh window (ttl with jitter), ms. */
  freshMs: number
  /** Stale-while-revalidate window after the fresh window, ms. */
  staleMs: number
  /** Stale-if-error window after the fresh window, ms. */
  graceMs: number
  /** A cached "not found" (negative caching). */
  negative: boolean
  body: Buffer
}

/** How long the store keeps an entry: the longest window that can still serve it. */
export function storeTtlMs(entry: Pick<CacheEntry, 'freshMs' | 'staleMs' | 'graceMs'>): number {
  return Math.ceil(entry.freshMs + Math.max(entry.staleMs, entry.graceMs))
}

/** Strong validator computed once at fill time. */
export function computeEtag(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

export function encodeEntry(entry: CacheEntry): Buffer {
  const ct = Buffer.from(entry.contentType, 'latin1')
  const etag = Buffer.from(entry.etag, 'latin1')
  const tags = Buffer.from(entry.tags, 'utf8')
  const head = Buffer.allocUnsafe(FIXED + 2 + ct.length + 2 + etag.length + 4 + tags.length)
  let o = 0
  o = head.writeUInt8(MAGIC, o)
  o = head.writeUInt8(FORMAT, o)
  o = head.writeUInt8(entry.negative ? FLAG_NEGATIVE : 0, o)
  o = head.writeUInt16LE(entry.status, o)
  o = head.writeDoubleLE(entry.freshMs, o)
  o = head.writeDoubleLE(entry.staleMs, o)
  o = head.writeDoubleLE(entry.graceMs, o)
  o = head.writeUInt16LE(ct.length, o)
  o += ct.copy(head, o)
  o = head.writeUInt16LE(etag.length, o)
  o += etag.copy(head, o)
  o = head.writeUInt32LE(tags.length, o)
  tags.copy(head, o)
  return Buffer.concat([head, entry.body])
}

/** Decodes a stored value; anything foreign, truncated or of another format is `undefined` (a miss). */
export function decodeEntry(buf: Buffer): CacheEntry | undefined {
  if (buf.length < FIXED + 8 || buf[0] !== MAGIC || buf[1] !== FORMAT) return undefined
  const freshMs = buf.readDoubleLE(5)
  const staleMs = buf.readDoubleLE(13)
  const graceMs = buf.readDoubleLE(21)
  if (!(freshMs >= 0 && staleMs >= 0 && graceMs >= 0)) return undefined
  let o = FIXED
  const ctLen = buf.readUInt16LE(o)
  o += 2
  if (o + ctLen + 2 > buf.length) return undefined
  const contentType = buf.toString('latin1', o, o + ctLen)
  o += ctLen
  const etagLen = buf.readUInt16LE(o)
  o += 2
  if (o + etagLen + 4 > buf.length) return undefined
  const etag = buf.toString('latin1', o, o + etagLen)
  o += etagLen
  const tagsLen = buf.readUInt32LE(o)
  o += 4
  if (o + tagsLen > buf.length) return undefined
  const tags = tagsLen === 0 ? '' : buf.toString('utf8', o, o + tagsLen)
  o += tagsLen
  return {
    status: buf.readUInt16LE(3),
    contentType,
    etag,
    tags,
    freshMs,
    staleMs,
    graceMs,
    negative: (buf[2]! & FLAG_NEGATIVE) !== 0,
    body: buf.subarray(o),
  }
}

export type Freshness = 'fresh' | 'stale' | 'grace' | 'expired'

/**
 * Where an entry stands given its age (ms since fill): fresh, servable while revalidating (stale),
 * servable only if the origin fails (grace), or expired.
 */
export function freshnessOf(entry: CacheEntry, ageMs: number): Freshness {
  if (ageMs < entry.freshMs) return 'fresh'
  const past = ageMs - entry.freshMs
  if (past < entry.staleMs) return 'stale'
  if (past < entry.graceMs) return 'grace'
  return 'expired'
}
