import type { KeydbStore } from '@fastkey/fastify-cache'
import { describe, expect, it } from 'vitest'
import { MemberIndex } from '../src/member-index.js'
import { instance, keydbStandaloneKit } from './helpers.js'

describe('KeyDB member index on Redis', () => {
  it('asked for on Redis: stays off, and hard invalidation falls back to lazy expiry', async () => {
    const { store, client } = await keydbStandaloneKit.make()
    const { cache, tags } = await instance(store, {}, { memberIndex: true })
    await tags.ready() // the capability detection is done
    expect(tags.memberIndexActive).toBe(false)
    await cache.set('k', 'v', { tags: ['t'] })
    await cache.invalidateTags(['t'])
    expect(await cache.get('k')).toBeUndefined()
    // The entry is a miss but still occupies memory until its TTL: that is the Redis fallback.
    expect(await client!.exists((store as KeydbStore).entryKey('k'))).toBe(1)
    expect(await client!.exists(`${(store as KeydbStore).namespace}:ti:{t}`)).toBe(0)
  })

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
