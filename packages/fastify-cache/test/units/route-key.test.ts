import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { DEFAULT_POLICY } from '../../src/engine/policy.js'
import { KEY_MEMO_ENTRIES, KeyMemos, MAX_VARY_VALUE_LENGTH, routeKey } from '../../src/route/route-key.js'
import { type CompiledRoute, compileRoute, type RouteCacheOptions } from '../../src/route/route-options.js'

const defaults = {
  policy: DEFAULT_POLICY,
  cacheControl: false,
  tagsHeader: undefined,
  tagProvider: false,
  hook: 'onRequest' as const,
  keyOnEncoding: false,
}

function compiled(config: RouteCacheOptions = {}, url = '/p/:id'): CompiledRoute {
  return compileRoute(config, ['GET', 'HEAD'], url, defaults)
}

function request(
  over: Partial<{ url: string; params: unknown; headers: object; protocol: string; host: string }>,
) {
  return {
    url: '/p/1',
    params: { id: '1' },
    headers: {},
    protocol: 'http',
    host: 'shop.test',
    ...over,
  } as unknown as FastifyRequest
}

describe('route key', () => {
  it('is the same for the same request, and for the query in any order', () => {
    const r = compiled()
    const a = routeKey(r, request({ url: '/p/1?b=2&a=1' }))
    expect(a).toBe(routeKey(r, request({ url: '/p/1?a=1&b=2' })))
    expect(a).not.toBe(routeKey(r, request({ url: '/p/1?a=1&b=3' })))
    expect(routeKey(r, request({ url: '/p/1?' }))).toBe(routeKey(r, request({ url: '/p/1' })))
  })

  it('keeps the order of repeated query names (handlers may rely on it)', () => {
    const r = compiled()
    expect(routeKey(r, request({ url: '/p/1?t=a&t=b' }))).not.toBe(
      routeKey(r, request({ url: '/p/1?t=b&t=a' })),
    )
  })

  it('separators inside params, query or headers cannot make two requests collide', () => {
    const r = compiled({ vary: ['accept-language'] })
    const keys = new Set([
      routeKey(r, request({ params: { id: '1|2' } })),
      routeKey(r, request({ params: { id: '1' }, url: '/p/1?2' })),
      routeKey(r, request({ params: { id: '1' }, url: '/p/1?|2' })),
      routeKey(r, request({ headers: { 'accept-language': 'fr|1:x' } })),
      routeKey(r, request({ headers: { 'accept-language': 'fr' } })),
      routeKey(r, request({})),
    ])
    expect(keys.size).toBe(6)
  })

  it('keeps hosts, protocols and routes apart', () => {
    const r = compiled()
    const base = routeKey(r, request({}))
    expect(routeKey(r, request({ host: 'other.test' }))).not.toBe(base)
    expect(routeKey(r, request({ protocol: 'https' }))).not.toBe(base)
    expect(routeKey(compiled({}, '/q/:id'), request({}))).not.toBe(base)
  })

  it("adds the route's own key part, and bypasses (undefined) a vary value too long to key on", () => {
    const r = compiled({ key: (req) => String(req.headers['x-user']), vary: ['accept-language'] })
    expect(routeKey(r, request({ headers: { 'x-user': 'alice' } }))).not.toBe(
      routeKey(r, request({ headers: { 'x-user': 'bob' } })),
    )
    const long = 'x'.repeat(MAX_VARY_VALUE_LENGTH + 1)
    expect(routeKey(r, request({ headers: { 'accept-language': long } }))).toBeUndefined()
  })

  it('hashes long keys (and keys with braces), so every key fits one cluster hash tag', () => {
    const r = compiled()
    const long = routeKey(r, request({ url: `/p/1?q=${'z'.repeat(500)}` }))!
    expect(long.startsWith('#')).toBe(true)
    expect(long.length).toBeLessThan(50)
    expect(routeKey(r, request({ params: { id: '{x}' } }))!.startsWith('#')).toBe(true)
  })
})

describe('route key memo', () => {
  // Requests as Fastify builds them: the params follow from the URL.
  const requests = [
    request({}),
    request({ url: '/p/2', params: { id: '2' } }),
    request({ url: '/p/2?b=2&a=1', params: { id: '2' } }),
    request({ url: '/p/2?a=1&b=2', params: { id: '2' } }),
    request({ host: 'other.test' }),
    request({ protocol: 'https' }),
    request({ url: '/p/%7Bx%7D', params: { id: '{x}' } }),
    request({ url: `/p/1?q=${'z'.repeat(500)}` }),
  ]

  it('answers the key routeKey builds, for every protocol, host and URL, asked once or again', () => {
    const r = compiled()
    const memo = new KeyMemos().forRoute(r)
    for (let pass = 0; pass < 2; pass++)
      for (const req of requests) expect(memo.of(req)).toBe(routeKey(r, req, []))
  })

  it('stays within its budget across routes, and every route still answers right after it starts over', () => {
    const memos = new KeyMemos()
    const a = compiled()
    const b = compiled({}, '/q/:id')
    const memoA = memos.forRoute(a)
    const memoB = memos.forRoute(b)
    expect(memoB.of(request({}))).toBe(routeKey(b, request({}), []))
    for (let i = 0; i < KEY_MEMO_ENTRIES + 10; i++) {
      const req = request({ url: `/p/${i}`, params: { id: String(i) } })
      expect(memoA.of(req)).toBe(routeKey(a, req, []))
      expect(memos.size).toBeLessThanOrEqual(KEY_MEMO_ENTRIES)
    }
    // Full once: every memo started over (11 keys of route a since).
    expect(memos.size).toBe(11)
    // The other route's memo was emptied too: its key is built and counted again.
    expect(memoB.of(request({}))).toBe(routeKey(b, request({}), []))
    expect(memos.size).toBe(12)
    expect(memoB.of(request({ host: 'x.test' }))).toBe(routeKey(b, request({ host: 'x.test' }), []))
  })
})
