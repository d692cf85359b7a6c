import zlib, { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import fastifyCompress from '@fastify/compress'
import Fastify from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type CacheStore, fastifyCache } from '../src/index.js'
import { storeKits } from './helpers.js'
import { send, TRANSPORTS } from './transport.js'

// With @fastify/compress registered before or after the cache, the bytes a client gets always match
// its accept-encoding and the content-encoding sent; gzip and br clients are served from the cache.

type Order = 'compress-first' | 'cache-first'

/** A ~2 KB body (sync compression) and a ~64 KB one (compress streams it above its syncThreshold). */
const SMALL = JSON.stringify({
  items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `product ${i}` })),
})
const LARGE = JSON.stringify({
  items: Array.from({ length: 1_500 }, (_, i) => ({ id: i, name: `product ${i}` })),
})

/** node:zlib with every compressor counted: how many times a response body was compressed. */
function countingZlib() {
  let calls = 0
  const counted =
    (fn: (...args: never[]) => unknown) =>
    (...args: never[]) => {
      calls++
      return fn(...args)
    }
  const names = [
    'createGzip',
    'createDeflate',
    'createBrotliCompress',
    'gzipSync',
    'deflateSync',
    'brotliCompressSync',
  ] as const
  const wrapped: Record<string, unknown> = { ...zlib }
  for (const name of names) wrapped[name] = counted(zlib[name] as never)
  return { zlib: wrapped, calls: () => calls }
}

async function app(store: CacheStore, order: Order) {
  const app = Fastify()
  onTestFinished(() => app.close())
  const counting = countingZlib()
  const compress = () =>
    app.register(fastifyCompress, {
      encodings: ['br', 'gzip', 'deflate', 'identity'],
      zlib: counting.zlib as never,
    })
  const cache = () => app.register(fastifyCache, { store })
  if (order === 'compress-first') {
    await compress()
    await cache()
  } else {
    await cache()
    await compress()
  }
  let origin = 0
  const handler = (body: string) => async (_req: unknown, reply: { type(t: string): unknown }) => {
    origin++
    reply.type('application/json')
    return body
  }
  app.get('/small', { config: { cache: {} } }, handler(SMALL))
  app.get('/large', { config: { cache: {} } }, handler(LARGE))
  await app.ready()
  return { app, origins: () => origin, compressions: counting.calls }
}

function decode(encoding: string | undefined, body: Buffer): string {
  if (encoding === 'gzip') return gunzipSync(body).toString()
  if (encoding === 'br') return brotliDecompressSync(body).toString()
  if (encoding === 'deflate') return inflateSync(body).toString()
  expect(encoding === undefined || encoding === 'identity').toBe(true)
  return body.toString()
}

const CLIENTS: Array<{ accept: string | undefined; allowed: Array<string | undefined> }> = [
  { accept: undefined, allowed: [undefined, 'identity'] },
  { accept: 'gzip', allowed: ['gzip', undefined, 'identity'] },
  { accept: 'br, gzip', allowed: ['br', 'gzip', undefined, 'identity'] },
  { accept: 'gzip;q=0.5, br;q=1, identity;q=0', allowed: ['br', 'gzip'] },
  { accept: 'deflate', allowed: ['deflate', undefined, 'identity'] },
]

describe.each(storeKits('compression'))('@fastify/compress and the cache on $name', (kit) => {
  for (const order of ['compress-first', 'cache-first'] as const)
    for (const transport of TRANSPORTS) {
      it(`${order} (${transport}): every body decodes to the origin's bytes, encodings never cross, compressed clients hit`, async () => {
        const { store } = await kit.make()
        const { app: server, origins, compressions } = await app(store, order)
        const seen = new Map<string, string[]>()
        let compressedBeforeHits = 0
        for (let round = 0; round < 4; round++) {
          if (round === 2) compressedBeforeHits = compressions()
          for (const url of ['/small', '/large']) {
            for (const client of CLIENTS) {
              const res = await send(server, transport, {
                url,
                headers: client.accept === undefined ? {} : { 'accept-encoding': client.accept },
              })
              await server.cache.drain()
              const encoding = res.headers['content-encoding'] as string | undefined
              const label = `${order} ${url} ${client.accept}`
              expect(res.statusCode, label).toBe(200)
              expect(client.allowed, `${label}: got ${encoding}`).toContain(encoding)
              expect(decode(encoding, res.rawPayload), label).toBe(url === '/small' ? SMALL : LARGE)
              const key = `${url} ${client.accept}`
              seen.set(key, [...(seen.get(key) ?? []), String(res.headers['x-cache'])])
            }
          }
        }
        // After the first rounds every client, gzip and br ones included, is served from the cache.
        for (const [key, states] of seen) expect(states.slice(2), key).toEqual(['HIT', 'HIT'])
        expect(origins()).toBeLessThanOrEqual(2 * (CLIENTS.length + 1) + 2)
        // Registered first, compress ran before the cache stored: hits send the stored encoded bytes and
        // compress nothing. Registered after, the cache stores identity bodies: each hit is compressed.
        const onHits = compressions() - compressedBeforeHits
        if (order === 'compress-first') expect(onHits).toBe(0)
        else expect(onHits).toBeGreaterThan(0)
      })
    }
})
