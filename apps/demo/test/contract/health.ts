import { sql } from 'drizzle-orm'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Database } from '../../src/db/client.js'
import { testApp } from '../helpers/app.js'

export function healthContract(database: () => Database): void {
  describe('GET /health', () => {
    it('is ok when the database answers and the cache probe is ok', async () => {
      const app = await testApp(database())
      const response = await app.inject('/health')
      expect(response.statusCode).toBe(200)
      expect(response.json()).toEqual({
        status: 'ok',
        cache: { ok: true, latencyMs: 0 },
        db: { ok: true, latencyMs: expect.any(Number) },
      })
    })

    it('is degraded (200) when the cache probe fails, throws or hangs', async () => {
      const probes = [
        () => ({ ok: false, latencyMs: 3 }),
        () => {
          throw new Error('cache unreachable')
        },
        () => new Promise<never>(() => {}),
      ]
      for (const cacheHealth of probes) {
        const app = await testApp(database(), { cacheHealth, healthTimeoutMs: 100 })
        const response = await app.inject('/health')
        expect(response.statusCode).toBe(200)
        expect(response.json()).toMatchObject({ status: 'degraded', cache: { ok: false }, db: { ok: true } })
      }
    })

    it('is down (503) when the database does not answer', async () => {
      const app = await testApp(database())
      // Fault injection: the probe statement fails as if the server had gone away.
      const stop = database().onQuery((query) => {
        if (query.includes('limit 1) as category')) throw new Error('connection lost')
      })
      onTestFinished(stop)
      const response = await app.inject('/health')
      expect(response.statusCode).toBe(503)
      expect(response.json()).toEqual({
        status: 'down',
        cache: { ok: true, latencyMs: 0 },
        db: { ok: false, latencyMs: expect.any(Number), error: 'connection lost' },
      })
    })

    it('is down (503) while the products table is gone, although the database answers select 1', async () => {
      const app = await testApp(database())
      const { orm } = database()
      await orm.execute(sql`alter table products rename to products_gone`)
      onTestFinished(async () => {
        await orm.execute(sql`alter table products_gone rename to products`)
      })
      await orm.execute(sql`select 1`)
      const cold = await app.inject('/products/7')
      const response = await app.inject('/health')
      expect(cold.statusCode).toBe(500)
      expect(response.statusCode).toBe(503)
      expect(response.json()).toMatchObject({
        status: 'down',
        cache: { ok: true },
        db: { ok: false, error: expect.stringContaining('products') },
      })
    })
  })
}
