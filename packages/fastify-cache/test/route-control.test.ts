import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import type { SealResult, TagProvider, TagVerdict } from '../src/extension/index.js'
import { MemoryStore } from '../src/index.js'
import { buildApp } from './app-helpers.js'
import { deferred, sleep } from './helpers.js'

/** A tag provider with cache-tags' rules for tag text (1-128 of [A-Za-z0-9:_.\-/]), versions in memory. */
class StrictTags implements TagProvider {
  async begin() {
    return undefined
  }
  validate(tags: readonly string[]) {
    for (const tag of tags) if (!/^[A-Za-z0-9:_.\-/]{1,128}$/.test(tag)) throw new TypeError(`bad tag ${tag}`)
  }
  async seal(_capture: unknown, tags: readonly string[]): Promise<SealResult> {
    try {
      this.validate(tags)
    } catch {
      return { refused: 'invalid-tags' }
    }
    return { recorded: tags.join(' ') }
  }
  check(): TagVerdict {
    return 'valid'
  }
  async invalidate() {}
  names(recorded: string) {
    return recorded.split(' ')
  }
}

describe('tags in response headers', () => {
  it('crafted tags (CR/LF, spaces, U+2028, commas) never make a 500 or an extra word in surrogate-key', async () => {
    const skips: string[] = []
    const app = await buildApp(
      new MemoryStore(),
      { tags: new StrictTags(), tagsHeader: 'surrogate-key' },
      (app) => {
        app.get(
          '/products',
          {
            config: { cache: { tags: (req) => ['products', `category:${(req.query as { c: string }).c}`] } },
          },
          async (req) => ({ c: (req.query as { c: string }).c }),
        )
      },
    )
    app.cache.events.on('skip', (e) => skips.push(e.reason))
    for (const c of ['a\r\nb', 'audio featured product:1', 'tv\u2028x', 'a,b', 'ok']) {
      for (let i = 0; i < 2; i++) {
        const res = await app.inject({ url: '/products', query: { c } })
        expect(res.statusCode, JSON.stringify(c)).toBe(200)
        const header = res.headers['surrogate-key']
        if (c === 'ok') expect(header).toBe('products category:ok')
        else expect(header, JSON.stringify(c)).toBeUndefined()
        await app.cache.drain()
      }
    }
    expect((await app.inject({ url: '/products', query: { c: 'ok' } })).headers['x-cache']).toBe('HIT')
    expect(skips).toEqual(Array(8).fill('invalid-tags')) // 4 crafted values, never stored, twice each
  })

  it('cache-tag (Cloudflare) lists tags with commas', async () => {
    const app = await buildApp(
      new MemoryStore(),
      { tags: new StrictTags(), tagsHeader: 'cache-tag' },
      (app) => {
        app.get('/t', { config: { cache: { tags: () => ['a', 'b:c'] } } }, async () => 'x')
      },
    )
    expect((await app.inject('/t')).headers['cache-tag']).toBe('a,b:c')
    await app.cache.drain()
    const hit = await app.inject('/t')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-tag']).toBe('a,b:c')
  })
})

describe("hook: 'preHandler'", () => {
  const TOKENS: Record<string, string> = { 'token-alice': 'alice', 'token-bob': 'bob' }
  /** The usual Fastify pattern: a preHandler verifies the token and sets the user. */
  const auth = async (
    req: FastifyRequest & { user?: string },
    reply: { code(n: number): { send(b: unknown): unknown } },
  ) => {
    const user = TOKENS[String(req.headers.authorization ?? '').replace('Bearer ', '')]
    if (!user) return reply.code(401).send({ error: 'unauthorized' })
    req.user = user
  }

  it('auth hooks run before a hit: forged and missing tokens get 401 although the entry is cached; users never cross', async () => {
    let handled = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get(
        '/me',
        {
          preHandler: auth as never,
          config: {
            cache: {
              hook: 'preHandler',
              key: (req) => String((req as FastifyRequest & { user?: string }).user),
            },
          },
        },
        async (req) => {
          handled++
          return { user: (req as FastifyRequest & { user?: string }).user }
        },
      )
    })
    const as = (authorization?: string) =>
      app.inject({ url: '/me', headers: authorization ? { authorization } : {} })
    expect((await as('Bearer token-alice')).json()).toEqual({ user: 'alice' })
    await app.cache.drain()
    const hit = await as('Bearer token-alice')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.json()).toEqual({ user: 'alice' })
    expect((await as('Bearer forged')).statusCode).toBe(401)
    expect((await as()).statusCode).toBe(401)
    expect((await as('Bearer token-bob')).json()).toEqual({ user: 'bob' })
    await app.cache.drain()
    expect((await as('Bearer token-bob')).json()).toEqual({ user: 'bob' })
    expect((await as('Bearer token-alice')).json()).toEqual({ user: 'alice' })
    expect(handled).toBe(2)
  })

  it('is a plugin-wide default a route can override', async () => {
    const app = await buildApp(new MemoryStore(), { hook: 'preHandler' }, (app) => {
      app.get('/a', { config: { cache: {} } }, async () => 'a')
      app.get('/b', { config: { cache: { hook: 'onRequest' } } }, async () => 'b')
    })
    for (const url of ['/a', '/b']) {
      await app.inject(url)
      await app.cache.drain()
      expect((await app.inject(url)).headers['x-cache']).toBe('HIT')
    }
  })
})

describe('route timeoutMs, early refresh, refresh(req)', () => {
  it('timeoutMs: a slow origin with a stale copy is answered with the copy, the fresh response fills behind it', async () => {
    let version = 0
    let delayMs = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get(
        '/slow',
        { config: { cache: { ttlMs: 50, staleIfErrorMs: 60_000, timeoutMs: 100 } } },
        async () => {
          await sleep(delayMs)
          return { version: ++version }
        },
      )
    })
    await app.inject('/slow')
    await app.cache.drain()
    await sleep(80) // past the fresh window, inside stale-if-error
    delayMs = 400
    const started = performance.now()
    const stale = await app.inject('/slow')
    expect(performance.now() - started).toBeLessThan(300)
    expect(stale.headers['x-cache']).toBe('STALE')
    expect(stale.json()).toEqual({ version: 1 })
    await app.cache.drain() // the slow load finishes and is stored
    const fresh = await app.inject('/slow')
    expect(fresh.headers['x-cache']).toBe('HIT')
    expect(fresh.json()).toEqual({ version: 2 })
    await sleep(80)
    delayMs = 0 // a fast origin inside the deadline answers this request itself
    const miss = await app.inject('/slow')
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.json()).toEqual({ version: 3 })
  })

  it('beta: a hot key is refreshed before it expires, so its expiry causes no burst of misses', async () => {
    let loads = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/hot', { config: { cache: { ttlMs: 400, beta: 4 } } }, async () => {
        loads++
        await sleep(50) // loadMs 50: × beta 4 makes a refresh likely in the last ~200 ms
        return { loads }
      })
    })
    const states: string[] = []
    const deadline = performance.now() + 1_500
    while (performance.now() < deadline) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => app.inject('/hot')))
      for (const res of batch) states.push(String(res.headers['x-cache']))
      await sleep(10)
    }
    await app.cache.drain()
    // One cold miss at the start; afterwards the entry never expired under the readers.
    expect(states.filter((s) => s === 'MISS').length).toBeLessThanOrEqual(10)
    expect(states.slice(10).every((s) => s === 'HIT')).toBe(true)
    expect(loads).toBeGreaterThanOrEqual(3) // refreshed in the background, ~every 350 ms
  })

  it('refresh(req): the handler runs and its response is stored, for everyone after', async () => {
    let version = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get(
        '/r',
        { config: { cache: { refresh: (req) => req.headers['x-admin-refresh'] === '1' } } },
        async () => ({ version: ++version }),
      )
    })
    await app.inject('/r')
    await app.cache.drain()
    const forced = await app.inject({ url: '/r', headers: { 'x-admin-refresh': '1' } })
    expect(forced.headers['x-cache']).toBe('MISS')
    expect(forced.json()).toEqual({ version: 2 })
    await app.cache.drain()
    expect((await app.inject('/r')).json()).toEqual({ version: 2 })
  })

  it('a refresh whose origin hangs does not keep other readers from the stale copy', async () => {
    const gate = deferred()
    let calls = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/g', { config: { cache: { ttlMs: 30, staleWhileRevalidateMs: 60_000 } } }, async () => {
        if (++calls === 2) await gate.promise
        return { calls }
      })
    })
    await app.inject('/g')
    await app.cache.drain()
    await sleep(50)
    for (let i = 0; i < 3; i++) expect((await app.inject('/g')).headers['x-cache']).toBe('STALE')
    gate.resolve()
    await app.cache.drain()
    expect(calls).toBe(2)
  })
})
