import { Writable } from 'node:stream'
import fastifyCaching from '@fastify/caching'
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import { redisUrl } from '@fastkey/test-services'
import Fastify, { type FastifyInstance } from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fastifyCache, MemoryStore } from '../src/index.js'

// Issue 15, "silent fallbacks made loud": which store the cache uses is logged, a fastify.keydb it
// cannot see and routes it never compiled are warned about at ready(), and a `fastify.cache` owned
// by another plugin is named.

interface Line {
  level: number
  msg: string
  store?: string
  keyPrefix?: string
  routes?: string[]
}

/** An app whose log lines (info and up) are collected. */
function appWithLog(): { app: FastifyInstance; lines: Line[] } {
  const lines: Line[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n')) if (text) lines.push(JSON.parse(text) as Line)
      done()
    },
  })
  const app = Fastify({ logger: { level: 'info', stream } })
  onTestFinished(() => app.close())
  return { app, lines }
}

const fastkey = (lines: Line[], level: 'info' | 'warn') =>
  lines.filter((l) => l.level === (level === 'info' ? 30 : 40) && l.msg.startsWith('fastkey cache:'))

describe('the store the cache uses is logged at start', () => {
  it('in memory, without fastify.keydb', async () => {
    const { app, lines } = appWithLog()
    await app.register(fastifyCache)
    await app.ready()
    const [line] = fastkey(lines, 'info')
    expect(line).toMatchObject({ store: 'memory' })
    expect(line!.msg).toMatch(/in-memory store: no fastify.keydb in this context/)
    expect(fastkey(lines, 'warn')).toEqual([])
  })

  it('KeyDB through fastify.keydb, with its key prefix', async () => {
    const { app, lines } = appWithLog()
    await app.register(fastifyKeydb, { url: await redisUrl() })
    await app.register(fastifyCache, { keyPrefix: 'notices' })
    await app.ready()
    expect(fastkey(lines, 'info')[0]).toMatchObject({ store: 'keydb', keyPrefix: 'notices' })
    expect(fastkey(lines, 'info')[0]!.msg).toMatch(/KeyDB through fastify.keydb \(key prefix "notices"\)/)
  })

  it('a store passed in, and keydb: false', async () => {
    const passed = appWithLog()
    await passed.app.register(fastifyCache, { store: new MemoryStore() })
    await passed.app.ready()
    expect(fastkey(passed.lines, 'info')[0]!.msg).toMatch(/the store passed as `store` \("memory"\)/)
    const off = appWithLog()
    await off.app.register(fastifyCache, { keydb: false })
    await off.app.ready()
    expect(fastkey(off.lines, 'info')[0]!.msg).toMatch(/`keydb: false`/)
  })
})

describe('a fastify.keydb the cache cannot see', () => {
  it('registered after the cache: a warning at ready', async () => {
    const { app, lines } = appWithLog()
    await app.register(fastifyCache)
    await app.register(fastifyKeydb, { url: await redisUrl() })
    await app.ready()
    const [warning] = fastkey(lines, 'warn')
    expect(warning!.msg).toMatch(/@fastkey\/fastify-keydb is registered after @fastkey\/fastify-cache/)
    expect(warning!.msg).toMatch(/uses the in-memory store/)
  })

  it('registered in a sibling context: a warning at ready', async () => {
    const { app, lines } = appWithLog()
    const url = await redisUrl()
    await app.register(async (sibling) => {
      await sibling.register(fastifyKeydb, { url })
    })
    await app.register(fastifyCache)
    await app.ready()
    expect(fastkey(lines, 'warn')[0]!.msg).toMatch(/registered in another encapsulated context/)
  })

  it('no warning when `keydb: false` says it is meant', async () => {
    const { app, lines } = appWithLog()
    await app.register(fastifyCache, { keydb: false })
    await app.register(fastifyKeydb, { url: await redisUrl() })
    await app.ready()
    expect(fastkey(lines, 'warn')).toEqual([])
  })
})

describe('routes declared before the plugin loaded', () => {
  it('register() not awaited: the route is not cached, and ready() names it', async () => {
    const { app, lines } = appWithLog()
    let calls = 0
    app.register(fastifyCache) // no await, as in a CommonJS app
    app.get('/early', { config: { cache: { ttlMs: 60_000 } } }, async () => ({ calls: ++calls }))
    app.register(async (child) => {
      child.get('/child/:id', { config: { cache: { ttlMs: 60_000 } } }, async () => ({ calls: ++calls }))
    })
    await app.ready()
    // What the warning is about: both requests ran the handler, no x-cache.
    const first = await app.inject('/early')
    const second = await app.inject('/early')
    expect(first.headers['x-cache']).toBeUndefined()
    expect(second.json()).toEqual({ calls: 2 })
    const [warning] = fastkey(lines, 'warn')
    expect(warning!.routes).toEqual(['GET /early'])
    expect(warning!.msg).toMatch(/1 route\(s\) were declared before @fastkey\/fastify-cache loaded/)
    expect(warning!.msg).toMatch(/GET \/early/)
  })

  it('nested paths are named in full; awaited, nothing is said and the route caches', async () => {
    const early = appWithLog()
    early.app.get('/a', async () => 'a')
    early.app.post('/a/b/:id', async () => 'b')
    await early.app.register(fastifyCache)
    await early.app.ready()
    expect(fastkey(early.lines, 'warn')[0]!.routes).toEqual(['GET /a', 'POST /a/b/:id'])

    const { app, lines } = appWithLog()
    await app.register(fastifyCache)
    app.get('/late', { config: { cache: { ttlMs: 60_000 } } }, async () => 'late')
    await app.ready()
    await app.inject('/late')
    expect((await app.inject('/late')).headers['x-cache']).toBe('HIT')
    expect(fastkey(lines, 'warn')).toEqual([])
  })
})

describe('fastify.cache owned by another plugin', () => {
  it('@fastify/caching registered first is named', async () => {
    const app = Fastify()
    onTestFinished(() => app.close())
    await app.register(fastifyCaching)
    await expect(app.register(fastifyCache)).rejects.toMatchObject({
      code: 'FST_CACHE_DECORATOR_TAKEN',
      message: expect.stringMatching(/already decorated by @fastify\/caching/),
    })
  })

  it('our own plugin twice is still FST_CACHE_ALREADY_REGISTERED', async () => {
    const app = Fastify()
    onTestFinished(() => app.close())
    await app.register(fastifyCache)
    await expect(app.register(fastifyCache)).rejects.toMatchObject({ code: 'FST_CACHE_ALREADY_REGISTERED' })
  })
})
