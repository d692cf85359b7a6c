import { fastifyKeydb } from '@fastkey/fastify-keydb'
import { redisUrl, uniquePrefix } from '@fastkey/test-services'
import Fastify from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Cache, KeydbStore } from '../src/index.js'
import { MAX_KEYS_PER_READ } from '../src/stores/batch-reader.js'

// Reads of one event-loop turn are batched, but never into one reply larger than fastify-keydb's
// maxReplyBytes (64 MiB by default), which drops the connection: with 100 concurrent reads of 1 MiB
// entries a single batch would answer 100 MiB and every read of the turn would fail. Scaled down
// here: maxReplyBytes 8 MiB, 100 entries of 200 KB (one batch: 20 MB; 32 keys: 6.4 MB).

describe('batched reads', () => {
  it(`ask for at most ${MAX_KEYS_PER_READ} keys per script: 100 concurrent hits of 200 KB entries answer within an 8 MiB reply limit`, async () => {
    const app = Fastify()
    onTestFinished(() => app.close())
    await app.register(fastifyKeydb, { url: await redisUrl(), maxReplyBytes: 8 * 1024 * 1024 })
    await app.ready()
    const client = app.keydb
    const keyPrefix = uniquePrefix('batch')
    const store = new KeydbStore({ client, keyPrefix, commandTimeoutMs: 5_000 })
    const cache = new Cache({ store, ttlMs: 60_000 })
    onTestFinished(async () => {
      await cache.delete(keys)
      await cache.close()
    })
    const keys = Array.from({ length: 100 }, (_, i) => `big:${i}`)
    const body = 'x'.repeat(200_000)
    const errors: unknown[] = []
    cache.events.on('error', (e) => errors.push(`${e.operation}: ${(e.error as Error).message}`))
    for (const key of keys) await cache.set(key, body)

    // Count the keys of each read script the store sends (the real client, real replies).
    const sizes: number[] = []
    const scripted = client as unknown as { fkReadBuffer: (n: number, ...keys: string[]) => Promise<unknown> }
    const original = scripted.fkReadBuffer.bind(client)
    scripted.fkReadBuffer = (n, ...rest) => {
      sizes.push(n)
      return original(n, ...rest)
    }
    onTestFinished(() => {
      scripted.fkReadBuffer = original
    })
    const values = await Promise.all(keys.map((key) => cache.get<string>(key)))
    expect(errors).toEqual([])
    expect(values.every((v) => v === body)).toBe(true)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(100)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_KEYS_PER_READ)
    expect(sizes.length).toBeGreaterThanOrEqual(Math.ceil(100 / MAX_KEYS_PER_READ))
  })
})
