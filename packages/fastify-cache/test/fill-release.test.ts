import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/index.js'
import { buildApp } from './app-helpers.js'
import { deferred } from './helpers.js'

/**
 * A request that ran the handler for a key holds its fill (the lock, and every request waiting on
 * it) until its response ends. When the response never reaches onSend, the fill must still end with
 * the response: else the next request for the key waits the whole lock wait (5 s by default).
 */
describe('a fill ends with its response, whatever way the response ends', () => {
  const WAIT_MS = 5_000

  it('a handler that takes the reply over (reply.hijack) releases the fill', async () => {
    let calls = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/raw', { config: { cache: {} } }, async (_req, reply) => {
        calls++
        if (calls > 1) return { calls }
        reply.hijack()
        reply.raw.writeHead(200, { 'content-type': 'text/plain' })
        reply.raw.end('written by the handler')
      })
    })
    expect((await app.inject('/raw')).body).toBe('written by the handler')
    const started = performance.now()
    const next = await app.inject('/raw')
    expect(performance.now() - started).toBeLessThan(WAIT_MS / 2)
    expect(next.headers['x-cache']).toBe('MISS')
    expect(next.json()).toEqual({ calls: 2 })
    expect((await app.inject('/raw')).headers['x-cache']).toBe('HIT')
  })

  it('a client that goes away while the handler runs releases the fill (real socket)', async () => {
    const entered = deferred<void>()
    const release = deferred<void>()
    let calls = 0
    const app = await buildApp(new MemoryStore(), {}, (app) => {
      app.get('/slow', { config: { cache: {} } }, async () => {
        calls++
        if (calls === 1) {
          entered.resolve()
          await release.promise // the origin never answers while the client waits
        }
        return { calls }
      })
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const gone = httpRequest({ host: '127.0.0.1', port, path: '/slow' })
    gone.on('error', () => {}) // the socket is destroyed on purpose
    gone.end()
    await entered.promise
    gone.destroy()
    try {
      const started = performance.now()
      const next = await fetch(`http://127.0.0.1:${port}/slow`)
      expect(performance.now() - started).toBeLessThan(WAIT_MS / 2)
      expect(next.headers.get('x-cache')).toBe('MISS')
      expect(await next.json()).toEqual({ calls: 2 })
    } finally {
      release.resolve()
    }
  })
})
