import type { KeydbStore } from '@fastkey/fastify-cache'
import { sharedServerKind } from '@fastkey/test-services'
import { describe, expect, it } from 'vitest'
import { MemberIndex } from '../src/member-index.js'
import { instance, keydbStandaloneKit, sleep } from './helpers.js'

// The member index needs EXPIREMEMBER, which only KeyDB has: which test applies follows the server.
const kind = await sharedServerKind()
const ON_KEYDB = 'the shared server is KeyDB: the index is on there (see the KeyDB test)'
const ON_REDIS = 'the shared server is Redis, which has no EXPIREMEMBER: set KEYDB_URL to a KeyDB server'

/** Polls `check` every 10 ms until it holds or `timeoutMs` passes (index writes run in the background). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(10)
  }
  return check()
}

describe('KeyDB member index', () => {
  it.skipIf(kind === 'keydb')(
    `on Redis: stays off, and hard invalidation falls back to lazy expiry${kind === 'keydb' ? ` (skipped: ${ON_KEYDB})` : ''}`,
    async () => {
      const { store, client } = await keydbStandaloneKit.make()
      const { cache, tags } = await instance(store, {}, { memberIndex: true })
      await tags.ready() // the capability detection is done
      expect(tags.memberIndexActive).toBe(false)
      await cache.set('k', 'v', { tags: ['t'] })
      await cache.invalidateTags(['t'])
      expect(await cache.get('k')).toBeUndefined()
      // The entry is a miss but still occupies memory until its TTL: that is the Redis fallback.
      expect(await client!.exists((store as KeydbStore).entryKey('k'))).toBe(1)
      expect(await client!.exists(`${(store as KeydbStore).keyPrefix}:ti:{t}`)).toBe(0)
    },
  )

  it.skipIf(kind !== 'keydb')(
    `on KeyDB: a fill records its key with a member expiry (EXPIREMEMBER), the member expires with the entry, a hard invalidation unlinks the entries${kind !== 'keydb' ? ` (skipped: ${ON_REDIS})` : ''}`,
    async () => {
      const { store, client } = await keydbStandaloneKit.make()
      const keydb = store as KeydbStore
      const { cache, tags } = await instance(store, {}, { memberIndex: true })
      await tags.ready()
      expect(tags.memberIndexActive).toBe(true)
      const index = `${keydb.keyPrefix}:ti:{t}`
      const long = keydb.entryKey('long')
      const short = keydb.entryKey('short')
      await cache.set('long', 'v', { tags: ['t'], ttlMs: 60_000 })
      await cache.set('short', 'v', { tags: ['t'], ttlMs: 300 })
      expect(
        await eventually(async () => (await client!.smismember(index, long, short)).every(Boolean)),
      ).toBe(true)
      // KeyDB's `PTTL key member` reads a member's own expiry: -1 had EXPIREMEMBER not run.
      const memberTtl = Number(await client!.call('PTTL', index, long))
      expect(memberTtl).toBeGreaterThan(50_000)
      expect(memberTtl).toBeLessThanOrEqual(60_000)
      // The short entry's member expires with it, without anything touching the set.
      expect(await eventually(async () => (await client!.sismember(index, short)) === 0, 3_000)).toBe(true)
      expect(await client!.sismember(index, long)).toBe(1)

      await cache.invalidateTags(['t'])
      expect(await cache.get('long')).toBeUndefined()
      // The purge runs in the background: the entry's memory is freed before its 60 s TTL.
      expect(await eventually(async () => (await client!.exists(long, index)) === 0)).toBe(true)
    },
  )

  it('purge unlinks the entries recorded under a tag, page by page, and detaches the set first', async () => {
    const { store, client, namespace } = await keydbStandaloneKit.make()
    const index = new MemberIndex(client!, namespace, 60_000)
    const keydb = store as KeydbStore
    const members = Array.from({ length: 600 }, (_, i) => keydb.entryKey(`e${i}`))
    for (const key of members) await client!.set(key, 'x', 'PX', 60_000)
    await client!.set(keydb.entryKey('other'), 'x', 'PX', 60_000)
    await client!.sadd(index.key('t'), ...members)
    expect(await index.purge('t')).toBe(600)
    expect(await client!.exists(...members)).toBe(0)
    expect(await client!.exists(keydb.entryKey('other'), index.key('t'))).toBe(1)
    expect(await index.purge('never-filled')).toBe(0)
  })
})
