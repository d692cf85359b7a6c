import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import type { CacheStore } from '../src/index.js'
import { acceptableEncodings } from '../src/route/vary.js'
import { buildApp } from './app-helpers.js'
import { storeKits } from './helpers.js'

// A `vary` set by the handler makes the key per variant of those request headers (RFC 9111 4.1), with
// a bound per URL; the hit carries the same `vary`; `vary: *` is never stored.

const GREETING: Record<string, string> = { fr: 'bonjour', de: 'hallo', en: 'hello' }

function localized(store: CacheStore, calls: { n: number }, maxVariants?: number) {
  return buildApp(store, {}, (app) => {
    app.get('/hello', { config: { cache: maxVariants ? { maxVariants } : {} } }, async (req, reply) => {
      calls.n++
      const lang = String(req.headers['accept-language'] ?? 'en').slice(0, 2)
      reply.header('vary', 'accept-language').header('content-language', lang)
      return { text: GREETING[lang] ?? `hello (${lang})` }
    })
  })
}

async function get(app: FastifyInstance, lang: string) {
  const res = await app.inject({ url: '/hello', headers: { 'accept-language': lang } })
  await app.cache.drain()
  return res
}

describe.each(storeKits('vary'))('vary from the handler on $name', (kit) => {
  it('variants never cross; the hit carries the same vary; the first response only teaches the headers', async () => {
    const { store } = await kit.make()
    const calls = { n: 0 }
    const app = await localized(store, calls)
    expect((await get(app, 'fr')).headers['x-cache']).toBe('MISS') // learned: keyed on accept-language from now on
    expect((await get(app, 'fr')).headers['x-cache']).toBe('MISS') // the variant's own fill
    const fr = await get(app, 'fr')
    expect(fr.headers['x-cache']).toBe('HIT')
    expect(fr.headers.vary).toBe('accept-language')
    expect(fr.json()).toEqual({ text: 'bonjour' })
    expect((await get(app, 'de')).json()).toEqual({ text: 'hallo' })
    const de = await get(app, 'de')
    expect(de.headers['x-cache']).toBe('HIT')
    expect(de.json()).toEqual({ text: 'hallo' })
    expect((await get(app, 'fr')).json()).toEqual({ text: 'bonjour' })
    expect(calls.n).toBe(3)
  })

  it('another instance learns the headers from the vary marker and serves the stored variant', async () => {
    const { store } = await kit.make()
    const calls = { n: 0 }
    const a = await localized(store, calls)
    await get(a, 'fr')
    await get(a, 'fr')
    const b = await localized(kit.twin(store), calls)
    const fromB = await get(b, 'fr')
    expect(fromB.headers['x-cache']).toBe('HIT')
    expect(fromB.json()).toEqual({ text: 'bonjour' })
    expect(calls.n).toBe(2)
  })

  it('1,000 distinct accept-language values on one URL stay within the variant bound and bypass beyond it', async () => {
    const { store } = await kit.make()
    const calls = { n: 0 }
    const app = await localized(store, calls, 8)
    await get(app, 'en') // learn
    const states: string[] = []
    for (let i = 0; i < 1_000; i++) states.push(String((await get(app, `x${i}`)).headers['x-cache']))
    const marker = (await store.get(String(await baseKey(app))))!
    const [, ...keys] = marker.value.toString('latin1', 1).split('\n')
    expect(keys.filter(Boolean).length).toBeLessThanOrEqual(8)
    expect(states.filter((s) => s === 'BYPASS').length).toBeGreaterThanOrEqual(990)
    // The variants within the bound are still cached.
    expect((await get(app, 'x0')).headers['x-cache']).toBe('HIT')
  })

  it('vary: * is never stored; the route option `vary` still keys on its headers', async () => {
    const { store } = await kit.make()
    const app = await buildApp(store, {}, (app) => {
      app.get('/star', { config: { cache: {} } }, async (_req, reply) => {
        reply.header('vary', '*')
        return 'x'
      })
      app.get('/configured', { config: { cache: { vary: ['x-tenant'] } } }, async (req) => ({
        tenant: req.headers['x-tenant'],
      }))
    })
    for (let i = 0; i < 2; i++) expect((await app.inject('/star')).headers['x-cache']).toBe('MISS')
    const as = (tenant: string) => app.inject({ url: '/configured', headers: { 'x-tenant': tenant } })
    await as('a')
    await app.cache.drain()
    const hit = await as('a')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers.vary).toBe('x-tenant')
    expect((await as('b')).json()).toEqual({ tenant: 'b' })
  })
})

/** The key the route computes before it knows about vary: where its marker lives (read from the store). */
async function baseKey(app: FastifyInstance): Promise<string | undefined> {
  const { routeKey } = await import('../src/route/route-key.js')
  const { compileRoute } = await import('../src/route/route-options.js')
  const { DEFAULT_POLICY } = await import('../src/engine/policy.js')
  const compiled = compileRoute({}, ['GET'], '/hello', {
    policy: DEFAULT_POLICY,
    cacheControl: false,
    tagsHeader: undefined,
    tagProvider: false,
    hook: 'onRequest',
    keyOnEncoding: false,
  })
  void app
  return routeKey(compiled, {
    url: '/hello',
    params: {},
    headers: {},
    protocol: 'http',
    host: 'localhost:80',
  } as never)
}

describe('accept-encoding key part', () => {
  it('is the set of codings the client accepts, so any stored one fits every request with that key', () => {
    expect(acceptableEncodings(undefined)).toBe('identity')
    expect(acceptableEncodings('gzip, deflate, br')).toBe('br,deflate,gzip,identity')
    expect(acceptableEncodings('br;q=0.5, gzip')).toBe('br,gzip,identity')
    expect(acceptableEncodings('GZIP')).toBe('gzip,identity')
    expect(acceptableEncodings('x-gzip')).toBe('gzip,identity')
    expect(acceptableEncodings('gzip;q=0, identity')).toBe('identity')
    expect(acceptableEncodings('*')).toBe('br,deflate,gzip,identity,zstd')
    expect(acceptableEncodings('*;q=0')).toBe('none')
    expect(acceptableEncodings('identity;q=0, gzip')).toBe('gzip')
  })
})
