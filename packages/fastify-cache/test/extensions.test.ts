import { startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { SealResult, TagProvider, TagVerdict } from '../src/extension/index.js'
import { Cache, KeydbStore, MemoryStore } from '../src/index.js'
import { buildApp } from './app-helpers.js'
import { deferred, sleep } from './helpers.js'

/** A tag provider kept in memory: enough to pin the engine's side of the extension point. */
class FakeTags implements TagProvider {
  versions = new Map<string, number>()
  soft = new Set<string>()
  begun: Array<readonly string[] | undefined> = []
  async begin(tags: readonly string[] | undefined) {
    this.begun.push(tags)
    return new Map(this.versions)
  }
  async seal(capture: unknown, tags: readonly string[]): Promise<SealResult> {
    const before = capture as Map<string, number>
    // An invalidation between begin and seal: refuse, as the real provider does.
    for (const [tag, v] of this.versions) if (before.get(tag) !== v) return { refused: 'raced' }
    return { recorded: tags.map((t) => `${t}=${this.versions.get(t) ?? 0}`).join(',') }
  }
  check(recorded: string): TagVerdict {
    let verdict: TagVerdict = 'valid'
    for (const pair of recorded.split(',')) {
      const [tag, v] = pair.split('=') as [string, string]
      if ((this.versions.get(tag) ?? 0) !== Number(v)) {
        if (!this.soft.has(tag)) return 'invalid'
        verdict = 'stale'
      }
    }
    return verdict
  }
  async invalidate(list: readonly string[], mode: 'soft' | 'hard') {
    for (const tag of list) {
      this.versions.set(tag, (this.versions.get(tag) ?? 0) + 1)
      if (mode === 'soft') this.soft.add(tag)
      else this.soft.delete(tag)
    }
  }
  names(recorded: string) {
    return recorded.split(',').map((pair) => pair.split('=')[0]!)
  }
}

describe('tag provider extension point', () => {
  it('records sealed versions, misses after a hard invalidation, serves stale after a soft one', async () => {
    const tags = new FakeTags()
    const cache = new Cache({ tags, staleWhileRevalidateMs: 60_000 })
    onTestFinished(() => cache.close())
    let n = 0
    const load = () => cache.getOrSet('p1', async () => ++n, { tags: ['product:1', 'cat:tv'] })
    expect(await load()).toBe(1)
    expect(await load()).toBe(1)
    expect(tags.begun).toEqual([['product:1', 'cat:tv']])
    await cache.invalidateTags(['cat:tv'])
    expect(await load()).toBe(2)
    await cache.invalidateTags(['product:1'], { mode: 'soft' })
    expect(await load()).toBe(2) // stale served, refresh in background
    await cache.drain()
    expect(await load()).toBe(3)
  })

  it('a load raced by an invalidation is not stored', async () => {
    const tags = new FakeTags()
    const cache = new Cache({ tags })
    onTestFinished(() => cache.close())
    const started = deferred()
    const release = deferred()
    const pending = cache.getOrSet(
      'raced',
      async () => {
        started.resolve()
        await release.promise
        return 'old'
      },
      { tags: ['t'] },
    )
    await started.promise
    await tags.invalidate(['t'], 'hard')
    release.resolve()
    expect(await pending).toBe('old')
    expect(await cache.get('raced')).toBeUndefined()
  })

  it('route tags are computed from the handler result', async () => {
    const tags = new FakeTags()
    const app = await buildApp(new MemoryStore(), { tags, tagsHeader: 'surrogate-key' }, (app) => {
      app.get(
        '/p/:id',
        { config: { cache: { tags: (_req, payload) => [`category:${(payload as { cat: string }).cat}`] } } },
        async () => ({ cat: 'tv' }),
      )
    })
    expect((await app.inject('/p/1')).headers['surrogate-key']).toBe('category:tv')
    const hit = await app.inject('/p/1')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['surrogate-key']).toBe('category:tv')
    await app.cache.invalidateTags(['category:tv'])
    expect((await app.inject('/p/1')).headers['x-cache']).toBe('MISS')
  })
})

describe('lifecycle and bus', () => {
  it('app.close() waits for a background refresh in flight', async () => {
    const gate = deferred()
    let refreshed = false
    let version = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/swr', { config: { cache: { ttlMs: 50, staleWhileRevalidateMs: 60_000 } } }, async () => {
        version++
        if (version === 2) {
          await gate.promise
          refreshed = true
        }
        return { version }
      })
    })
    await app.inject('/swr')
    await sleep(80)
    expect((await app.inject('/swr')).headers['x-cache']).toBe('STALE')
    const closing = app.close()
    await sleep(50)
    expect(refreshed).toBe(false)
    gate.resolve()
    await closing
    expect(refreshed).toBe(true)
  })

  it('L1 is cleared when the bus reconnects after a gap (messages may have been lost)', async () => {
    const server = await startRedisServer()
    onTestFinished(() => server.stop())
    const client = new Redis(server.url, { lazyConnect: true })
    await client.connect()
    onTestFinished(() => client.quit().then(() => undefined))
    const cache = new Cache({
      store: new KeydbStore({ client, keyPrefix: 'bus-test' }),
      l1: { maxEntries: 10 },
    })
    onTestFinished(() => cache.close())
    await cache.ready()
    for (let i = 0; i < 50 && cache.l1Stats.entries === 0; i++) {
      await cache.set('k', 'v')
      await cache.get('k')
      await sleep(10)
    }
    expect(cache.l1Stats.entries).toBe(1)
    await client.client('KILL', 'TYPE', 'PUBSUB')
    for (let i = 0; i < 200 && cache.l1Stats.entries > 0; i++) await sleep(10)
    expect(cache.l1Stats.entries).toBe(0)
  })

  it('routes emit load (with route) on fills, including background refreshes', async () => {
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/l/:id', { config: { cache: { ttlMs: 50, staleWhileRevalidateMs: 10_000 } } }, async () => ({
        ok: 1,
      }))
    })
    const loads: Array<{ route?: string | undefined; ok: boolean }> = []
    const sets: Array<{ route?: string | undefined }> = []
    app.cache.events.on('load', (e) => loads.push(e))
    app.cache.events.on('set', (e) => sets.push(e))
    await app.inject('/l/1')
    await sleep(80)
    expect((await app.inject('/l/1')).headers['x-cache']).toBe('STALE')
    await app.cache.drain()
    expect(loads).toEqual([
      expect.objectContaining({ route: '/l/:id', ok: true }),
      expect.objectContaining({ route: '/l/:id', ok: true }),
    ])
    expect(sets.map((e) => e.route)).toEqual(['/l/:id', '/l/:id'])
  })

  it('emits events for observers, and costs nothing without listeners', async () => {
    const cache = new Cache({ lock: { ttlMs: 1_000, waitMs: 100 } })
    onTestFinished(() => cache.close())
    const seen: string[] = []
    for (const name of ['hit', 'miss', 'load', 'set', 'delete'] as const)
      cache.events.on(name, () => seen.push(name))
    await cache.getOrSet('e', async () => 1)
    await cache.getOrSet('e', async () => 1)
    await cache.delete('e')
    expect(seen).toEqual(['miss', 'load', 'set', 'hit', 'delete'])
    expect(cache.events.has('error')).toBe(false)
  })
})
