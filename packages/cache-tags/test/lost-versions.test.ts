import type { KeydbStore } from '@fastkey/fastify-cache'
import { sleep } from '@fastkey/test-services'
import type { Cluster, Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { MemoryVersions } from '../src/memory-backend.js'
import { instance, type Kit, kits } from './helpers.js'

// A tag version can disappear from KeyDB (eviction under allkeys-*/volatile-*, expiry, a lossy
// failover, a DEL): a missing version must never read as "never invalidated" (issue 13 item 1).

const keydbKits = kits('cache-tags lost versions').filter((kit) => kit.name !== 'memory')

/** A route-style fill (tags known only at seal time): begin, `during` runs while the load is in flight. */
async function routeFill(
  tags: Awaited<ReturnType<typeof instance>>['tags'],
  list: string[],
  during: () => Promise<unknown>,
) {
  const capture = await tags.begin(undefined)
  await during()
  return tags.seal(capture, list)
}

describe.each(keydbKits)('a tag version lost during a route fill on $name', (kit: Kit) => {
  async function setup() {
    const { store, client } = await kit.make()
    const x = await instance(store, {}, { clockSkewMs: 0 })
    const prefix = (store as KeydbStore).keyPrefix
    const admin = client as Redis | Cluster
    return { ...x, admin, hardKey: (tag: string) => `${prefix}:t:{${tag}}`, markKey: `${prefix}:tmark` }
  }

  it('invalidated then deleted during the load: the seal refuses the fill', async () => {
    const { cache, tags, admin, hardKey } = await setup()
    await cache.set('seed', 1, { tags: ['products'] }) // the tag has a version
    const sealed = await routeFill(tags, ['products', 'other'], async () => {
      await cache.invalidateTags(['products'])
      await admin.del(hardKey('products')) // evicted, expired, or lost in a failover
    })
    expect(sealed).toEqual({ refused: 'raced' })
    expect(tags.stats.raced).toBe(1)
  })

  it('the mark lost too: the seal still refuses (nothing proves the load quiet)', async () => {
    const { cache, tags, admin, hardKey, markKey } = await setup()
    await cache.set('seed', 1, { tags: ['products'] })
    const sealed = await routeFill(tags, ['products'], async () => {
      await cache.invalidateTags(['products'])
      await admin.del(hardKey('products'))
      await admin.del(markKey)
    })
    expect(sealed).toEqual({ refused: 'raced' })
  })

  it('a soft version lost after a soft invalidation: stored already stale', async () => {
    const { cache, tags, admin, hardKey } = await setup()
    await cache.set('seed', 1, { tags: ['products'] })
    // The seed created the hard version: clear of the load's start, or a slow reply to the seal's
    // read makes that creation count as during the load (conservative: refused as raced).
    await sleep(20)
    const sealed = await routeFill(tags, ['products'], async () => {
      await cache.invalidateTags(['products'], { mode: 'soft' })
      await admin.del(`${hardKey('products')}:s`)
    })
    expect(sealed).toMatchObject({ recorded: expect.stringMatching(/^products c\S+ ~$/) })
    expect(tags.stats.racedSoft).toBe(1)
  })

  it('new tags, or a version lost with no invalidation anywhere since the load began: stored', async () => {
    const { cache, tags, admin, hardKey } = await setup()
    await cache.set('seed', 1, { tags: ['products'] })
    await cache.invalidateTags(['elsewhere']) // before the load: proves nothing about it
    // Clear of the load's start: the app's and the server's clocks are compared to the millisecond,
    // and an invalidation at the very start counts as during it (conservative).
    await sleep(20)
    const fresh = await routeFill(tags, ['brand-new', 'products'], async () => {
      await admin.del(hardKey('products'))
    })
    expect(fresh).toHaveProperty('recorded')
    expect(tags.stats.raced).toBe(0)
  })

  it('an invalidation of any tag during the load makes a recreated version count as raced', async () => {
    const { cache, tags, admin, hardKey } = await setup()
    await cache.set('seed', 1, { tags: ['products'] })
    const sealed = await routeFill(tags, ['products'], async () => {
      await cache.invalidateTags(['another'])
      await admin.del(hardKey('products'))
    })
    // Conservative: the lost version may have been invalidated before it went; a reload costs little.
    expect(sealed).toEqual({ refused: 'raced' })
  })

  it('service calls compare versions exactly: a version lost during the load refuses the fill', async () => {
    const { cache, tags, admin, hardKey } = await setup()
    let row = 'old'
    const value = await cache.getOrSet(
      'k',
      async () => {
        const seen = row
        row = 'new'
        await cache.invalidateTags(['rows'])
        await admin.del(hardKey('rows'))
        return seen
      },
      { tags: ['rows'] },
    )
    expect(value).toBe('old')
    expect(await cache.get('k')).toBeUndefined()
    expect(tags.stats.raced).toBe(1)
  })

  it('every invalidation writes the mark, which start-up created', async () => {
    const { cache, admin, markKey } = await setup()
    const created = await admin.get(markKey)
    expect(created).toMatch(/^c\d+\./)
    await cache.invalidateTags(['a', 'b'])
    const written = await admin.get(markKey)
    expect(written).toMatch(/^i\d+\./)
    expect(written).not.toBe(created)
  })
})

describe('memory versions: a forgotten tag', () => {
  it('recreated during a load counts as invalidated only when a tag was forgotten since', async () => {
    const versions = new MemoryVersions(3)
    await versions.capture(['a', 'b'], undefined)
    const quiet = versions.mark()
    // A new tag, nothing forgotten since the mark: exact, stored.
    expect((await versions.capture(['c'], quiet)).get('c')).toMatchObject({
      hardSince: false,
      softSince: false,
    })
    // 'd' pushes 'a' out (bound 3): from then on a tag created during that load may be one that was
    // invalidated and then forgotten, 'd' included (conservative), and 'a' recreated certainly.
    expect((await versions.capture(['d'], quiet)).get('d')).toMatchObject({ hardSince: true })
    expect((await versions.capture(['a'], quiet)).get('a')).toMatchObject({
      hardSince: true,
      softSince: true,
    })
    // A load that began after the loss is exact again.
    const later = versions.mark()
    expect((await versions.capture(['e'], later)).get('e')).toMatchObject({ hardSince: true }) // pushes one out
    const after = versions.mark()
    expect((await versions.capture(['e', 'a'], after)).get('a')).toMatchObject({ hardSince: false })
  })
})
