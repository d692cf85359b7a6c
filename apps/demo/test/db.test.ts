import { freePort } from '@fastkey/test-services'
import { asc, sql } from 'drizzle-orm'
import { describe, expect, it, onTestFinished } from 'vitest'
import { buildApp } from '../src/app.js'
import { createDatabase, type Database } from '../src/db/client.js'
import { categories, products } from '../src/db/schema.js'
import { DEFAULT_SEED_PRODUCTS, generateProducts } from '../src/db/seed.js'
import { prepareDatabase } from '../src/db/setup.js'
import { createPostgresDatabase, openTestDatabase } from './helpers/databases.js'

async function postgresDb(products: number | false): Promise<Database> {
  const handle = await openTestDatabase('postgres', products)
  onTestFinished(handle.dispose)
  return handle.database
}

/** `execute` returns an array on postgres.js and `{ rows }` on PGlite. */
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]
}

async function firstProducts(database: Database, count: number) {
  const rows = await database.orm.select().from(products).orderBy(asc(products.id)).limit(count)
  return rows.map(({ updatedAt: _updatedAt, ...row }) => row)
}

describe('seed generator', () => {
  it('yields the same valid rows on every run', () => {
    const once = [...generateProducts(500, [1, 2, 3])]
    expect([...generateProducts(500, [1, 2, 3])]).toEqual(once)
    expect(new Set(once.map((row) => row.sku)).size).toBe(500)
    for (const row of once) {
      expect(row.price).toMatch(/^\d{1,10}\.\d{2}$/)
      expect(row.currency).toMatch(/^[A-Z]{3}$/)
    }
    expect(once.some((row) => row.featured)).toBe(true)
  })
})

describe('migrations and seed on Postgres', () => {
  it('migrations create the tables, keys and indexes, and run again as a no-op', async () => {
    const database = await postgresDb(false)
    await database.migrate()
    const indexes = rowsOf<{ indexname: string }>(
      await database.orm.execute(
        sql`select indexname from pg_indexes where schemaname = 'public' order by indexname`,
      ),
    )
    expect(indexes.map((row) => row.indexname)).toEqual([
      'categories_pkey',
      'categories_slug_unique',
      'products_category_id_id_idx',
      'products_featured_id_idx',
      'products_pkey',
      'products_sku_unique',
    ])
    const applied = await database.orm.execute(sql`select id from drizzle.__drizzle_migrations`)
    expect(rowsOf(applied)).toHaveLength(1)
  })

  it('seeds the same catalogue into two databases, and reseeding gives it again', async () => {
    const [a, b] = await Promise.all([postgresDb(400), postgresDb(400)])
    const first = await firstProducts(a, 50)
    expect(first[0]).toMatchObject({ id: 1, sku: 'SKU-000001' })
    expect(await firstProducts(b, 50)).toEqual(first)
    expect(await a.orm.select().from(categories).orderBy(asc(categories.id))).toEqual(
      await b.orm.select().from(categories).orderBy(asc(categories.id)),
    )
    await prepareDatabase(a, { seed: { products: 400 }, reset: true })
    expect(await firstProducts(a, 50)).toEqual(first)
  })

  it(`seeds ${DEFAULT_SEED_PRODUCTS} products by default, once`, async () => {
    const database = await postgresDb(false)
    expect(await prepareDatabase(database)).toEqual({ seeded: true, categories: 20, products: 10_000 })
    expect(await database.orm.$count(products)).toBe(10_000)
    expect(await prepareDatabase(database)).toMatchObject({ seeded: false })
    expect(await database.orm.$count(products)).toBe(10_000)
  })

  it('two instances starting together on one database migrate and seed it once', async () => {
    const created = await createPostgresDatabase()
    const [one, two] = await Promise.all([
      createDatabase({ url: created.url, poolMax: 2 }),
      createDatabase({ url: created.url, poolMax: 2 }),
    ])
    onTestFinished(async () => {
      await Promise.all([one.close(), two.close()])
      await created.drop()
    })
    const results = await Promise.all(
      [one, two].map((db) => prepareDatabase(db, { seed: { products: 200 } })),
    )
    expect(results.map((result) => result.seeded).sort()).toEqual([false, true])
    expect(await one.orm.$count(products)).toBe(200)
  })
})

describe('an unreachable Postgres', () => {
  it('GET /health answers 503 down within its deadline', async () => {
    const port = await freePort()
    const database = await createDatabase({ url: `postgres://demo@127.0.0.1:${port}/demo` })
    const app = await buildApp({ database, closeDatabase: true, healthTimeoutMs: 2_000 })
    onTestFinished(() => app.close())
    const response = await app.inject('/health')
    expect(response.statusCode).toBe(503)
    expect(response.json()).toEqual({
      status: 'down',
      cache: { ok: true, latencyMs: 0 },
      db: { ok: false, latencyMs: expect.any(Number), error: expect.any(String) },
    })
  })
})
