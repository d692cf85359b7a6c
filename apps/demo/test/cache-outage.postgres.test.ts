import { eventually, type RedisProcess, startRedisServer } from '@fastkey/test-services'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONTRACT_PRODUCTS } from './contract/index.js'
import { testApp } from './helpers/app.js'
import { openTestDatabase, type TestDatabase } from './helpers/databases.js'

// Writes while KeyDB is down (issue 13 item 5), on a throwaway server with its append-only file on:
// the write answers 2xx, no instance serves the old product, before or after KeyDB comes back with
// the old entries still in it.

describe('a product write while KeyDB is down', () => {
  let handle: TestDatabase | undefined
  let server: RedisProcess | undefined
  beforeAll(async () => {
    handle = await openTestDatabase('postgres', CONTRACT_PRODUCTS)
    server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
  })
  afterAll(async () => {
    await server?.stop()
    await handle?.dispose()
  })

  it('answers 200 with x-cache-invalidation: pending; the new price is all any instance serves', async () => {
    const options = { cache: { keydbUrl: server!.url, keyPrefix: 'outage', l1: { maxEntries: 100 } } }
    const [a, b] = [await testApp(handle!.database, options), await testApp(handle!.database, options)]
    await Promise.all([a.cache.ready(), b.cache.ready()])
    await new Promise((resolve) => setTimeout(resolve, 300)) // the instances have heard each other
    const price = (app: FastifyInstance) => app.inject('/products/5').then((r) => r.json().price as string)
    const old = await price(a)
    expect(await price(b)).toBe(old)
    expect((await b.inject('/products/5')).headers['x-cache']).toBe('HIT')

    await server!.kill()
    const newPrice = `${(Number(old) + 1).toFixed(2)}`
    const patched = await a.inject({ method: 'PATCH', url: '/products/5', payload: { price: newPrice } })
    expect(patched.statusCode).toBe(200)
    expect(patched.headers['x-cache-invalidation']).toBe('pending')
    expect(patched.json().price).toBe(newPrice)
    // The writer serves from the database; its health says why.
    expect(await price(a)).toBe(newPrice)
    const health = (await a.inject('/health')).json()
    expect(health).toMatchObject({ status: 'degraded', cache: { ok: false } })
    expect(health.cache.pendingInvalidations).toBeGreaterThanOrEqual(3) // products, product:5, its category

    await server!.restart() // the old product comes back from the append-only file
    const seen = new Set<string>()
    const replayed = await eventually(async () => {
      seen.add(await price(a))
      seen.add(await price(b))
      return a.cache.pendingInvalidations.tags === 0
    }, 8_000)
    expect(replayed).toBe(true)
    for (let i = 0; i < 40; i++) {
      seen.add(await price(a))
      seen.add(await price(b))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect([...seen]).toEqual([newPrice])
    // And both cache again.
    expect(
      await eventually(async () => (await b.inject('/products/5')).headers['x-cache'] === 'HIT', 3_000),
    ).toBe(true)
  })
})
