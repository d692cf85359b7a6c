import { createHash } from 'node:crypto'

/**
 * A cache entry as stored in KeyDB: a small binary header followed by the body bytes, read in one GET.
 * Windows are durations, never timestamps: freshness is decided from the remaining TTL the store
 * reports, so app instances with skewed clocks reach the same decision.
 *
 * Layout (little endian), format 2:
 *   u8 magic 0xfc | u8 format | u8 flags | u16 status | f64 freshMs | f64 staleMs | f64 graceMs
 *   | f64 loadMs | u16 len + content-type | u16 len + etag | u32 len + tag versions
 *   | u32 len + headers (latin1 `name\0value\0name\0value`) | body
 * Format 1 (no loadMs, no headers) is still read: entries written before an upgrade stay hits.
 */
const MAGIC = 0xfc
const FORMAT = 2
const FIXED_V1 = 3 + 2 + 8 * 3
const FIXED = FIXED_V1 + 8
const FLAG_NEGATIVE = 1

/** Response headers replayed on a hit: lower-case names, several values of one name as an array. */
export type StoredHeaders = Readonly<Record<string, string | readonly string[]>>

const NO_HEADERS: StoredHeaders = Object.freeze(Object.create(null))

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
  /** How long the load that produced the entry took, ms (for early refresh). */
  loadMs: number
  /** A cached "not found" (negative caching). */
  negative: boolean
  /** Headers the handler set (routes), replayed on a hit; content-type and etag have their fields. */
  headers: StoredHeaders
  body: Buffer
}

/** Strong validator computed once at fill time. */
export function computeEtag(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

/** An empty header set, shared. */
export function noHeaders(): StoredHeaders {
  return NO_HEADERS
}

function encodeHeaders(headers: StoredHeaders): string {
  let out = ''
  for (const name in headers) {
    const value = headers[name]!
    if (typeof value === 'string') out += `${out === '' ? '' : '\0'}${name}\0${value}`
    else for (const one of value) out += `${out === '' ? '' : '\0'}${name}\0${one}`
  }
  return out
}

/**
 * Header sets already decoded, by their stored text. Why: the responses of a route mostly carry the
 * same headers (cache-control, content-language, a served-by), and a KeyDB hit would otherwise split
 * the text and build an object on every hit. Hits share the frozen set, as L1 hits share their entry.
 * Bounded in count and text length; emptied when full, so sets that differ per entry (a `link` per
 * page) cost one Map lookup more than before, nothing else.
 */
const SHARED_SETS_MAX = 256
const SHARED_TEXT_MAX = 1024
const sharedSets = new Map<string, StoredHeaders>()

function decodeHeaders(text: string): StoredHeaders | undefined {
  if (text.length > SHARED_TEXT_MAX) return parseHeaders(text)
  const known = sharedSets.get(text)
  if (known !== undefined) return known
  const headers = parseHeaders(text)
  if (headers === undefined) return undefined
  if (sharedSets.size >= SHARED_SETS_MAX) sharedSets.clear()
  sharedSets.set(text, headers)
  return headers
}

/** Frozen (arrays too): one decoded set may be replayed by many hits at once. */
function parseHeaders(text: string): StoredHeaders | undefined {
  if (text === '') return NO_HEADERS
  const parts = text.split('\0')
  if (parts.length % 2 !== 0) return undefined
  const headers: Record<string, string | string[]> = Object.create(null)
  for (let i = 0; i < parts.length; i += 2) {
    const name = parts[i]!
    const value = parts[i + 1]!
    const seen = headers[name]
    if (seen === undefined) headers[name] = value
    else if (typeof seen === 'string') headers[name] = [seen, value]
    else seen.push(value)
  }
  for (const name in headers) if (typeof headers[name] !== 'string') Object.freeze(headers[name])
  return Object.freeze(headers)
}

export function encodeEntry(entry: CacheEntry): Buffer {
  const ct = Buffer.from(entry.contentType, 'latin1')
  const etag = Buffer.from(entry.etag, 'latin1')
  const tags = Buffer.from(entry.tags, 'utf8')
  const headers = Buffer.from(encodeHeaders(entry.headers), 'latin1')
  const head = Buffer.allocUnsafe(
    FIXED + 2 + ct.length + 2 + etag.length + 4 + tags.length + 4 + headers.length,
  )
  let o = 0
  o = head.writeUInt8(MAGIC, o)
  o = head.writeUInt8(FORMAT, o)
  o = head.writeUInt8(entry.negative ? FLAG_NEGATIVE : 0, o)
  o = head.writeUInt16LE(entry.status, o)
  o = head.writeDoubleLE(entry.freshMs, o)
  o = head.writeDoubleLE(entry.staleMs, o)
  o = head.writeDoubleLE(entry.graceMs, o)
  o = head.writeDoubleLE(entry.loadMs, o)
  o = head.writeUInt16LE(ct.length, o)
  o += ct.copy(head, o)
  o = head.writeUInt16LE(etag.length, o)
  o += etag.copy(head, o)
  o = head.writeUInt32LE(tags.length, o)
  o += tags.copy(head, o)
  o = head.writeUInt32LE(headers.length, o)
  headers.copy(head, o)
  return Buffer.concat([head, entry.body])
}

/** Decodes a stored value; anything foreign, truncated or of another format is `undefined` (a miss). */
export function decodeEntry(buf: Buffer): CacheEntry | undefined {
  const format = buf[1]
  const v1 = format === 1
  if (buf.length < FIXED_V1 + 8 || buf[0] !== MAGIC || (format !== FORMAT && !v1)) return undefined
  const freshMs = buf.readDoubleLE(5)
  const staleMs = buf.readDoubleLE(13)
  const graceMs = buf.readDoubleLE(21)
  const loadMs = v1 ? 0 : buf.readDoubleLE(29)
  if (!(freshMs >= 0 && staleMs >= 0 && graceMs >= 0 && loadMs >= 0)) return undefined
  let o = v1 ? FIXED_V1 : FIXED
  if (o + 2 > buf.length) return undefined
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
  let headers: StoredHeaders | undefined = NO_HEADERS
  if (!v1) {
    if (o + 4 > buf.length) return undefined
    const headersLen = buf.readUInt32LE(o)
    o += 4
    if (o + headersLen > buf.length) return undefined
    headers = headersLen === 0 ? NO_HEADERS : decodeHeaders(buf.toString('latin1', o, o + headersLen))
    if (headers === undefined) return undefined
    o += headersLen
  }
  return {
    status: buf.readUInt16LE(3),
    contentType,
    etag,
    tags,
    freshMs,
    staleMs,
    graceMs,
    loadMs,
    negative: (buf[2]! & FLAG_NEGATIVE) !== 0,
    headers,
    body: buf.subarray(o),
  }
}

/** First byte of a vary marker (an entry starts with MAGIC). */
const VARY_MAGIC = 0xfd

/**
 * Stored at the key a route computes before it knows the response varies (`vary` from the handler):
 * the request headers the responses vary on, and the keys of the variants stored so far. A reader
 * that finds it learns the headers and reads its own variant. Layout (latin1, as a Lua script edits
 * it): `\xfd<name,name>\n<key>\n<key>\n...`.
 */
export interface VaryMarker {
  names: readonly string[]
  keys: readonly string[]
}

/** Decodes a stored value: an entry, a vary marker, or `undefined` (foreign or corrupt: a miss). */
export function decodeStored(buf: Buffer): CacheEntry | VaryMarker | undefined {
  if (buf[0] !== VARY_MAGIC) return decodeEntry(buf)
  const text = buf.toString('latin1', 1)
  const lines = text.split('\n')
  const names = lines[0] === '' ? [] : lines[0]!.split(',')
  if (names.length === 0 || lines[lines.length - 1] !== '') return undefined
  return { names, keys: lines.slice(1, -1) }
}

export function isVaryMarker(value: CacheEntry | VaryMarker): value is VaryMarker {
  return 'keys' in value
}
