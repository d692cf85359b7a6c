import { describe, expect, it } from 'vitest'
import { type CacheEntry, computeEtag, decodeEntry, encodeEntry } from '../../src/extension/index.js'

const entry = (over: Partial<CacheEntry> = {}): CacheEntry => ({
  status: 200,
  contentType: 'application/json; charset=utf-8',
  etag: '"abc"',
  tags: 'product:1 c1.x c1.x',
  freshMs: 60_000,
  staleMs: 5_000,
  graceMs: 600_000,
  loadMs: 12.5,
  negative: false,
  headers: { link: ['</p?page=2>; rel="next"', '</p?page=9>; rel="last"'], 'x-total-count': '90' },
  body: Buffer.from('{"id":1}'),
  ...over,
})

describe('entry codec', () => {
  it('round-trips every field, the body byte for byte', () => {
    const body = Buffer.from([0, 0xfc, 1, 255, 10, 13, 0x80])
    for (const e of [
      entry(),
      entry({ body, tags: '', etag: '', contentType: '' }),
      entry({ negative: true, status: 404 }),
    ]) {
      const decoded = decodeEntry(encodeEntry(e))!
      expect({ ...decoded, body: decoded.body.toString('hex') }).toEqual({
        ...e,
        body: e.body.toString('hex'),
      })
    }
  })

  it('keeps non-ASCII tags (utf8) and fractional windows', () => {
    const e = entry({ tags: 'catégorie:télé c1 c1', freshMs: 1234.5 })
    expect(decodeEntry(encodeEntry(e))).toMatchObject({ tags: 'catégorie:télé c1 c1', freshMs: 1234.5 })
  })

  it('still reads entries of format 1 (no load time, no headers), written before an upgrade', () => {
    const v2 = encodeEntry(entry({ headers: {}, loadMs: 0 }))
    // Format 1 is format 2 without the load time (8 bytes after the windows) and the headers block.
    const v1 = Buffer.concat([
      v2.subarray(0, 29),
      v2.subarray(37, v2.length - 4 - entry().body.length),
      entry().body,
    ])
    v1[1] = 1
    expect(decodeEntry(v1)).toEqual({ ...entry(), headers: {}, loadMs: 0 })
  })

  it('reads anything foreign, truncated or of another format as a miss', () => {
    const good = encodeEntry(entry())
    expect(decodeEntry(Buffer.from('{"plain":"json"}'))).toBeUndefined()
    expect(decodeEntry(Buffer.alloc(0))).toBeUndefined()
    for (let cut = 1; cut < good.length - entry().body.length; cut++)
      expect(decodeEntry(good.subarray(0, cut)), `cut at ${cut}`).toBeUndefined()
    const otherFormat = Buffer.from(good)
    otherFormat[1] = 99
    expect(decodeEntry(otherFormat)).toBeUndefined()
    const negativeWindow = Buffer.from(good)
    negativeWindow.writeDoubleLE(-1, 5)
    expect(decodeEntry(negativeWindow)).toBeUndefined()
  })

  it('shares one frozen header set between entries that stored the same headers', () => {
    const a = decodeEntry(encodeEntry(entry({ body: Buffer.from('a') })))!
    const b = decodeEntry(encodeEntry(entry({ body: Buffer.from('b') })))!
    expect(b.headers).toBe(a.headers)
    expect(Object.isFrozen(a.headers)).toBe(true)
    expect(Object.isFrozen(a.headers.link)).toBe(true)
    const other = decodeEntry(encodeEntry(entry({ headers: { 'x-total-count': '91' } })))!
    expect(other.headers).not.toBe(a.headers)
    expect(other.headers).toEqual({ 'x-total-count': '91' })
  })

  it('decodes every header set right past the bound of shared sets and for long texts', () => {
    for (let i = 0; i < 600; i++) {
      const headers = { 'x-page': String(i), link: [`</p?page=${i + 1}>; rel="next"`, '</p>; rel="first"'] }
      expect(decodeEntry(encodeEntry(entry({ headers })))!.headers).toEqual(headers)
    }
    const long = { 'x-long': 'v'.repeat(5000) }
    const first = decodeEntry(encodeEntry(entry({ headers: long })))!
    expect(first.headers).toEqual(long)
    expect(Object.isFrozen(first.headers)).toBe(true)
  })

  it('computes a strong etag from the body only', () => {
    const a = computeEtag(Buffer.from('x'))
    expect(a).toMatch(/^"[\w-]+"$/)
    expect(computeEtag(Buffer.from('x'))).toBe(a)
    expect(computeEtag(Buffer.from('y'))).not.toBe(a)
  })
})
