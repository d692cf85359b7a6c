import { parseServerInfo } from '@fastkey/fastify-cache/extension'
import { describe, expect, it } from 'vitest'
import { useMemberIndex } from '../src/index.js'
import { VersionMemo } from '../src/memo.js'
import { MemoryVersions } from '../src/memory-backend.js'
import {
  type CapturedTag,
  decodeRecorded,
  encodeRecorded,
  invalidatedAt,
  recordFill,
  STALE_MARK,
  verdictOf,
  writtenAt,
} from '../src/versions.js'

const REDIS_INFO = ['# Server', 'redis_version:7.0.15', 'redis_mode:standalone', 'os:Linux', ''].join('\r\n')
const KEYDB_INFO = [
  '# Server',
  'redis_version:6.3.4',
  'redis_mode:standalone',
  'availability_zone:',
  'features:cluster_mget',
  '',
].join('\r\n')

describe('recorded versions', () => {
  it('round-trips and rejects what is not ours', () => {
    const tags = [
      { tag: 'cat:tv', hard: 'c1.ab', soft: 'i2.cd' },
      { tag: 'p/1', hard: 'i3.ef', soft: STALE_MARK },
    ]
    expect(decodeRecorded(encodeRecorded(tags))).toEqual(tags)
    for (const foreign of ['x', 'a b', 'a  b c', 'a b c d']) expect(decodeRecorded(foreign)).toBeUndefined()
  })

  it('hard change = invalid, soft change = stale, missing version = invalid', () => {
    const recorded = [
      { tag: 'a', hard: 'h1', soft: 's1' },
      { tag: 'b', hard: 'h2', soft: 's2' },
    ]
    const current = new Map([
      ['a', { hard: 'h1', soft: 's1' }],
      ['b', { hard: 'h2', soft: 's2' }],
    ])
    expect(verdictOf(recorded, (t) => current.get(t))).toBe('valid')
    current.set('b', { hard: 'h2', soft: 's3' })
    expect(verdictOf(recorded, (t) => current.get(t))).toBe('stale')
    current.set('a', { hard: 'h9', soft: 's1' })
    expect(verdictOf(recorded, (t) => current.get(t))).toBe('invalid')
    expect(verdictOf(recorded, () => undefined)).toBe('invalid')
  })

  it('reads invalidation times only from invalidation versions', () => {
    expect(invalidatedAt('i1795828404735064.abc')).toBe(1795828404735064)
    expect(invalidatedAt('i42')).toBe(42)
    expect(invalidatedAt('c1795828404735064.abc')).toBeUndefined()
    expect(invalidatedAt('')).toBeUndefined()
    expect(invalidatedAt(STALE_MARK)).toBeUndefined()
  })

  it('reads write times from invalidation and creation versions alike', () => {
    expect(writtenAt('i1795828404735064.abc')).toBe(1795828404735064)
    expect(writtenAt('c1795828404735064.abc')).toBe(1795828404735064)
    expect(writtenAt('c7')).toBe(7)
    for (const other of ['', 'c', 'i.x', 'x12.ab', STALE_MARK, 'cabc.d'])
      expect(writtenAt(other)).toBeUndefined()
  })
})

describe('what a fill records', () => {
  const at = (hard: string, soft: string, hardSince = false, softSince = false): CapturedTag => ({
    hard,
    soft,
    hardSince,
    softSince,
  })

  it('tags known before the load compare versions; the others trust "invalidated since"', () => {
    const before = new Map([['a', at('h1', 's1')]])
    const same = new Map([
      ['a', at('h1', 's1', true, true)], // "since" is ignored for a tag captured before
      ['b', at('h5', 's5')],
    ])
    expect(recordFill(['a', 'b'], same, before)).toEqual({ recorded: 'a h1 s1 b h5 s5', softRaced: false })
    expect(recordFill(['a'], new Map([['a', at('h2', 's1')]]), before)).toBeUndefined()
    expect(recordFill(['a'], new Map([['a', at('h1', 's2')]]), before)).toEqual({
      recorded: `a h1 ${STALE_MARK}`,
      softRaced: true,
    })
    expect(recordFill(['b'], new Map([['b', at('h5', 's5', true)]]), before)).toBeUndefined()
    expect(recordFill(['b'], new Map([['b', at('h5', 's5', false, true)]]), undefined)).toEqual({
      recorded: `b h5 ${STALE_MARK}`,
      softRaced: true,
    })
  })
})

describe('memory versions', () => {
  it('hard and soft versions move independently; "since" is exact', async () => {
    const versions = new MemoryVersions()
    const first = (await versions.capture(['t'], undefined)).get('t')!
    const mark = versions.mark()
    await versions.invalidate(['t'], 'soft')
    const afterSoft = (await versions.capture(['t'], mark)).get('t')!
    expect(afterSoft.hard).toBe(first.hard)
    expect(afterSoft.soft).not.toBe(first.soft)
    expect(afterSoft).toMatchObject({ hardSince: false, softSince: true })
    const mark2 = versions.mark()
    await versions.invalidate(['t'], 'hard')
    const afterHard = (await versions.capture(['t'], mark2)).get('t')!
    expect(afterHard.soft).toBe(afterSoft.soft)
    expect(afterHard).toMatchObject({ hardSince: true, softSince: false })
    expect((await versions.capture(['t'], versions.mark())).get('t')).toMatchObject({
      hardSince: false,
      softSince: false,
    })
  })

  it('forgets the least recently used tags beyond its bound (their entries then miss)', async () => {
    const versions = new MemoryVersions(2)
    await versions.capture(['a', 'b'], undefined)
    await versions.capture(['a'], undefined)
    await versions.capture(['c'], undefined)
    expect(versions.readSync('a').hard).not.toBe('')
    expect(versions.readSync('b').hard).toBe('')
  })
})

describe('version memo', () => {
  it('expires, stays bounded, and ignores reads that overlapped an eviction', () => {
    const memo = new VersionMemo(1_000, 2)
    const v = { hard: 'h', soft: 's' }
    memo.set('a', v, memo.epoch, 0)
    expect(memo.get('a', 999)).toBe(v)
    expect(memo.get('a', 1_000)).toBeUndefined()
    const epoch = memo.epoch
    memo.evict(['x'])
    memo.set('a', v, epoch, 0) // read before the eviction landed: may predate the write
    expect(memo.get('a', 1)).toBeUndefined()
    for (const tag of ['a', 'b', 'c']) memo.set(tag, v, memo.epoch, 0)
    expect(memo.size).toBe(2)
    expect(memo.get('a', 1)).toBeUndefined()
    memo.clear()
    expect(memo.size).toBe(0)
    expect(new VersionMemo(0, 10).epoch).toBe(0)
  })
})

const server = (info: string) => parseServerInfo(info).server
const isKeydbInfo = (info: string) => server(info) === 'keydb'

describe('KeyDB member index decision', () => {
  it('is on only when asked for and the server is KeyDB', () => {
    expect(isKeydbInfo(KEYDB_INFO)).toBe(true)
    expect(isKeydbInfo(KEYDB_INFO.replace('availability_zone:\r\n', ''))).toBe(true)
    expect(isKeydbInfo(KEYDB_INFO.replace('features:cluster_mget\r\n', ''))).toBe(true)
    expect(isKeydbInfo('# Server\r\nredis_version:6.2.0\r\nmvcc_depth:0\r\n')).toBe(true)
    // redis_version alone decides nothing: KeyDB can report any version there.
    expect(isKeydbInfo(REDIS_INFO)).toBe(false)
    expect(isKeydbInfo(REDIS_INFO.replace('7.0.15', '6.3.4'))).toBe(false)
    expect(useMemberIndex(true, server(KEYDB_INFO))).toBe(true)
    expect(useMemberIndex(false, server(KEYDB_INFO))).toBe(false)
    expect(useMemberIndex(true, server(REDIS_INFO))).toBe(false)
    expect(useMemberIndex(true, undefined)).toBe(false)
  })
})
