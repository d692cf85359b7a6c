const LF = 0x0a
const CR = 0x0d
const MINUS = 0x2d

// What a type byte starts (RESP2 and RESP3: https://github.com/redis/redis-specifications/blob/master/protocol/RESP3.md).
const UNKNOWN = 0
/** One-line values: simple string `+`, error `-`, integer `:`, null `_`, boolean `#`, double `,`, big number `(`. */
const ONE_LINE = 1
/** Length-prefixed payloads: bulk string `$`, verbatim string `=`, bulk error `!`. */
const STRING = 2
/** N elements: array `*`, set `~`, push `>`. */
const AGGREGATE = 3
/** N pairs: map `%`. */
const MAP = 4
/** N pairs annotating the value that follows them: attribute `|`. */
const ATTRIBUTE = 5
const KIND = new Uint8Array(256)
for (const c of '+-:_#,(') KIND[c.charCodeAt(0)] = ONE_LINE
for (const c of '$=!') KIND[c.charCodeAt(0)] = STRING
for (const c of '*~>') KIND[c.charCodeAt(0)] = AGGREGATE
KIND['%'.charCodeAt(0)] = MAP
KIND['|'.charCodeAt(0)] = ATTRIBUTE

/** A length is at most 20 digits (2^64); a longer header can only announce something absurd. */
const MAX_LENGTH_CHARS = 21

const NO_LINE = -1

/** More bytes of the same reply are expected. */
const CONTINUE = 0
/** A top-level reply is complete. */
const REPLY_DONE = 1
type Step = typeof CONTINUE | typeof REPLY_DONE

/**
 * Follows the framing of a RESP2/RESP3 byte stream without decoding anything, to tell how many bytes
 * the reply being received has taken so far. ioredis' parser (redis-parser in ioredis 5, its own
 * decoder in 6) keeps every byte of a reply until the reply is complete; this is what bounds it.
 *
 * Cheap on purpose (it sees every byte a connection receives): string payloads are skipped by their
 * length, only header lines are looked at, lengths are parsed from the bytes without building a
 * string. A stream it cannot follow (an unknown type byte, a length that is not a number: the parser
 * will fail the connection itself) stops being followed.
 */
export class RespFramer {
  readonly #limit: number
  /** Bytes of the current top-level reply received before the current chunk. */
  #pending = 0
  /** Bytes still to pass of the string payload being received (its CRLF included). */
  #skip = 0
  /** Type byte of the header line being read; NO_LINE between lines. */
  #type = NO_LINE
  /** Kind of the header line being read (see KIND). */
  #kind = UNKNOWN
  /** The length header read so far (a header may be split across chunks), parsed byte by byte. */
  #length = 0
  #lengthChars = 0
  #lengthDigits = 0
  #negative = false
  #malformed = false
  /** Elements still expected by each open aggregate, innermost last. */
  readonly #expected: number[] = []
  /** Whether each open aggregate is an attribute (it annotates the value after it, taking no slot). */
  readonly #isAttribute: boolean[] = []
  #lost = false
  #replies = 0

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Feeds one chunk. Returns what went over the limit (for the error message), else undefined. */
  push(chunk: Buffer): string | undefined {
    if (this.#lost) return undefined
    const n = chunk.length
    let i = 0
    // Where the reply that is still incomplete at the end of the chunk started in it.
    let start = 0
    while (i < n) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, n - i)
        this.#skip -= take
        i += take
        if (this.#skip === 0 && this.#valueDone() === REPLY_DONE) start = this.#replyDone(i)
        continue
      }
      if (this.#type === NO_LINE) {
        this.#type = chunk[i++]!
        this.#kind = KIND[this.#type]!
        continue
      }
      // A plain loop: header lines are a few bytes, shorter than the cost of calling into indexOf.
      let lf = i
      while (lf < n && chunk[lf] !== LF) lf++
      if (lf === n) lf = -1
      const end = lf === -1 ? n : lf
      if (this.#kind !== ONE_LINE) {
        if (this.#lengthChars + (end - i) > MAX_LENGTH_CHARS) return 'announced a length of over 20 digits'
        this.#readLength(chunk, i, end)
      }
      if (lf === -1) break
      i = lf + 1
      const step = this.#header()
      if (typeof step === 'string') return step
      if (this.#lost) return undefined
      if (step === REPLY_DONE) start = this.#replyDone(i)
    }
    this.#pending += n - start
    if (this.#pending > this.#limit) return `grew past ${this.#pending} bytes before it was complete`
    return undefined
  }

  /** Top-level replies completed so far. */
  get replies(): number {
    return this.#replies
  }

  /** Whether it met something it cannot follow (and stopped following). */
  get lost(): boolean {
    return this.#lost
  }

  #replyDone(at: number): number {
    this.#replies++
    this.#pending = 0
    return at
  }

  /** Digits (and a leading '-') of a length header, up to its CR. */
  #readLength(chunk: Buffer, from: number, to: number): void {
    for (let j = from; j < to; j++) {
      const c = chunk[j]!
      if (c >= 0x30 && c <= 0x39) {
        this.#length = this.#length * 10 + (c - 0x30)
        this.#lengthDigits++
      } else if (c === MINUS && this.#lengthChars === 0) this.#negative = true
      else if (c !== CR || j !== to - 1) this.#malformed = true
      this.#lengthChars++
    }
  }

  /** A header line ended: its type in #type and #kind, its length (if any) read by #readLength. */
  #header(): Step | string {
    const kind = this.#kind
    const length = this.#negative ? -this.#length : this.#length
    // Digits only, or -1 (null).
    const valid = !this.#malformed && this.#lengthDigits > 0 && (!this.#negative || length === -1)
    this.#type = NO_LINE
    this.#length = 0
    this.#lengthChars = 0
    this.#lengthDigits = 0
    this.#negative = false
    this.#malformed = false
    if (kind === ONE_LINE) return this.#valueDone()
    if (kind === UNKNOWN || !valid) {
      this.#lost = true
      return CONTINUE
    }
    if (kind === STRING) {
      if (length < 0) return this.#valueDone() // null bulk string
      if (length > this.#limit) return `announced ${length} bytes`
      this.#skip = length + 2
      return CONTINUE
    }
    const elements = kind === MAP || kind === ATTRIBUTE ? length * 2 : length
    if (elements <= 0) return kind === ATTRIBUTE ? CONTINUE : this.#valueDone() // empty or null
    this.#expected.push(elements)
    this.#isAttribute.push(kind === ATTRIBUTE)
    return CONTINUE
  }

  /** One value ended: fill the slot of its aggregate, closing the aggregates it completes. */
  #valueDone(): Step {
    while (this.#expected.length > 0) {
      const last = this.#expected.length - 1
      this.#expected[last]!--
      if (this.#expected[last]! > 0) return CONTINUE
      this.#expected.pop()
      // A complete attribute takes no slot: the value it annotates comes next.
      if (this.#isAttribute.pop()) return CONTINUE
    }
    return REPLY_DONE
  }
}
