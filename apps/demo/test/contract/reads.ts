import { asc, eq } from 'drizzle-orm'
import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/client.js'
import { categories, products } from '../../src/db/schema.js'
import { queryCount, testApp } from '../helpers/app.js'

interface PageBody {
  items: { id: number; categorySlug: string; featured: boolean }[]
  nextCursor: string | null
}

/** Follows nextCursor to the end; returns every id in order. */
async function walk(app: FastifyInstance, firstUrl: string): Promise<number[]> {
  const ids: number[] = []
  let url: string | undefined = firstUrl
  for (let pages = 0; url !== undefined; pages++) {
    expect(pages).toBeLessThan(500)
    const response: { statusCode: number; json<T>(): T } = await app.inject(url)
    expect(response.statusCode).toBe(200)
    const body: PageBody = response.json<PageBody>()
    ids.push(...body.items.map((item) => item.id))
    const separator = firstUrl.includes('?') ? '&' : '?'
    url = body.nextCursor === null ? undefined : `${firstUrl}${separator}cursor=${body.nextCursor}`
  }
  return ids
}

async function idsInCategory(database: Database, slug: string): Promise<number[]> {
  const rows = await database.orm
    .select({ id: products.id })
    .from(products)
    .innerJoin(categories, eq(products.categoryId, categories.id))
    .where(eq(categories.slug, slug))
    .orderBy(asc(products.id))
  return rows.map((row) => row.id)
}

export function readContract(database: () => Database): void {
  describe('reads', () => {
    it('GET /products/:id returns the product with its category slug', async () => {
      const app = await testApp(database())
      const response = await app.inject('/products/1')
      expect(response.statusCode).toBe(200)
      const product = response.json()
      expect(product).toMatchObject({
        id: 1,
        sku: 'SKU-000001',
        currency: expect.stringMatching(/^[A-Z]{3}$/),
      })
      expect(product.price).toMatch(/^\d+\.\d{2}$/)
      const [row] = await database()
        .orm.select({ slug: categories.slug })
        .from(products)
        .innerJoin(categories, eq(products.categoryId, categories.id))
        .where(eq(products.id, 1))
      expect(product.categorySlug).toBe(row?.slug)
      expect(new Date(product.updatedAt).toISOString()).toBe(product.updatedAt)
    })

    it('GET /products/:id answers 404 for a missing product and 400 for a bad id', async () => {
      const app = await testApp(database())
      const missing = await app.inject('/products/999999')
      expect(missing.statusCode).toBe(404)
      expect(missing.json()).toMatchObject({ code: 'FST_DEMO_NOT_FOUND', error: 'Not Found' })
      const bad = await app.inject('/products/abc')
      expect(bad.statusCode).toBe(400)
      expect(bad.json()).toMatchObject({ code: 'FST_DEMO_VALIDATION', field: 'id' })
    })

    it('GET /products walks every product once, in id order, across pages', async () => {
      const app = await testApp(database())
      const all = await database().orm.select({ id: products.id }).from(products).orderBy(asc(products.id))
      expect(await walk(app, '/products?limit=7')).toEqual(all.map((row) => row.id))
      const first = (await app.inject('/products')).json<PageBody>()
      expect(first.items).toHaveLength(20)
    })

    it('GET /products filters by category and featured', async () => {
      const app = await testApp(database())
      const featured = (await app.inject('/products?featured=true&limit=100')).json<PageBody>()
      expect(featured.items.length).toBeGreaterThan(0)
      expect(featured.items.every((item) => item.featured)).toBe(true)
      const books = await walk(app, '/products?category=books&limit=5')
      expect(books).toEqual(await idsInCategory(database(), 'books'))
    })

    it('GET /products rejects a forged cursor, a limit over 100 and unknown parameters', async () => {
      const app = await testApp(database())
      for (const [url, field] of [
        ['/products?cursor=YWJj', 'cursor'],
        ['/products?cursor=!!', 'cursor'],
        ['/products?limit=101', 'limit'],
        ['/products?limit=0', 'limit'],
        ['/products?colour=red', 'colour'],
      ] as const) {
        const response = await app.inject(url)
        expect(response.statusCode, url).toBe(400)
        expect(response.json(), url).toMatchObject({ code: 'FST_DEMO_VALIDATION', field })
      }
    })

    it('GET /products/featured lists featured products through the service', async () => {
      const calls: number[] = []
      const app = await testApp(database())
      const real = app.featuredProducts
      const spying = await testApp(database(), {
        featuredProducts: {
          listFeatured: (limit) => {
            calls.push(limit)
            return real.listFeatured(limit)
          },
        },
      })
      const response = await spying.inject('/products/featured?limit=3')
      expect(response.statusCode).toBe(200)
      const { items } = response.json<PageBody>()
      expect(items).toHaveLength(3)
      expect(items.every((item) => item.featured)).toBe(true)
      expect(calls).toEqual([3])
      expect((await spying.inject('/products/featured')).json<PageBody>().items.length).toBeLessThanOrEqual(
        10,
      )
    })

    it('GET /categories lists the 20 categories with product counts', async () => {
      const app = await testApp(database())
      const { items } = (await app.inject('/categories')).json<{
        items: { slug: string; productCount: number }[]
      }>()
      expect(items.length).toBeGreaterThanOrEqual(20)
      const total = await database().orm.$count(products)
      expect(items.reduce((sum, item) => sum + item.productCount, 0)).toBe(total)
    })

    it('GET /categories/:slug/products walks a category without duplicate or gap', async () => {
      const app = await testApp(database())
      const expected = await idsInCategory(database(), 'audio')
      expect(expected.length).toBeGreaterThan(4)
      const ids = await walk(app, '/categories/audio/products?limit=4')
      expect(ids).toEqual(expected)
      expect(new Set(ids).size).toBe(ids.length)
    })

    it('GET /categories/:slug/products: 404 for an unknown slug, empty page for an empty category', async () => {
      const app = await testApp(database())
      const unknown = await app.inject('/categories/no-such-aisle/products')
      expect(unknown.statusCode).toBe(404)
      expect(unknown.json()).toMatchObject({ code: 'FST_DEMO_NOT_FOUND' })
      await database()
        .orm.insert(categories)
        .values({ slug: 'empty-aisle', name: 'Empty aisle' })
        .onConflictDoNothing()
      const empty = await app.inject('/categories/empty-aisle/products')
      expect(empty.statusCode).toBe(200)
      expect(empty.json()).toEqual({ items: [], nextCursor: null })
    })

    it('a read sends exactly one statement, counted in demo_db_queries_total', async () => {
      const app = await testApp(database())
      for (const url of ['/products/2', '/products?limit=5', '/categories/books/products', '/categories']) {
        const before = await queryCount(app)
        expect((await app.inject(url)).statusCode, url).toBe(200)
        expect((await queryCount(app)) - before, url).toBe(1)
      }
    })

    it('GET /metrics serves the app registry in the Prometheus text format', async () => {
      const app = await testApp(database())
      await app.inject('/products/1')
      const response = await app.inject('/metrics')
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(response.body).toMatch(/^demo_db_queries_total\{statement="select"\} [1-9]/m)
      expect(response.body).toContain('process_cpu_user_seconds_total')
    })
  })
}
