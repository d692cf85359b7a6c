import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { describe, expect, it } from 'vitest'
import type { DemoCacheOptions } from '../../src/cache.js'
import type { Database } from '../../src/db/client.js'
import { encodeCursor } from '../../src/pagination.js'
import { queryCount, testApp } from '../helpers/app.js'

/** How each app instance of a test gets its cache: memory (one per app) or one shared KeyDB namespace. */
export interface CacheSetup {
  /** Options for one app; apps of one test built from the same `scope` share their KeyDB namespace. */
  options(scope: string): DemoCacheOptions
  /** Whether two apps of one scope share entries (KeyDB) or not (memory). */
  shared: boolean
}

function sku(): string {
  return `C-${randomBytes(5).toString('hex')}`
}

async function get(app: FastifyInstance, url: string): Promise<LightMyRequestResponse> {
  return app.inject(url)
}

/** Asserts that `url` is served from the cache: HIT, and not one SQL statement sent. */
async function expectHit(app: FastifyInstance, url: string): Promise<LightMyRequestResponse> {
  const before = await queryCount(app)
  const response = await get(app, url)
  expect(response.headers['x-cache'], url).toBe('HIT')
  expect(await queryCount(app), `${url} sent SQL on a hit`).toBe(before)
  return response
}

/** The first HIT of `url` within a second (20 tries 50 ms apart), else the last answer. */
async function eventuallyHit(app: FastifyInstance, url: string): Promise<LightMyRequestResponse | undefined> {
  let response: LightMyRequestResponse | undefined
  for (let i = 0; i < 20 && response?.headers['x-cache'] !== 'HIT'; i++) {
    if (i > 0) await sleep(50)
    response = await get(app, url)
  }
  return response
}

function ids(response: LightMyRequestResponse): number[] {
  return (response.json().items as Array<{ id: number }>).map((p) => p.id)
}

export function cacheContract(database: () => Database, setup: CacheSetup): void {
  const scope = () => `t${randomBytes(4).toString('hex')}`
  const app = (s: string) => testApp(database(), { cache: setup.options(s) })

  describe('read-through caching', () => {
    it('a cold read sends one statement, a hit none, with x-cache and age', async () => {
      const a = await app(scope())
      const before = await queryCount(a)
      const miss = await get(a, '/products/7')
      expect(miss.statusCode).toBe(200)
      expect(miss.headers['x-cache']).toBe('MISS')
      expect(await queryCount(a)).toBe(before + 1)
      const hit = await expectHit(a, '/products/7')
      expect(hit.body).toBe(miss.body)
      expect(hit.headers['content-type']).toBe(miss.headers['content-type'])
      expect(hit.headers.age).toBe('0')
      expect(hit.headers['surrogate-key']).toBe('product:7')
    })

    it('caches every read route: lists, pages, categories, featured (the @cached service)', async () => {
      const a = await app(scope())
      const first = await get(a, '/categories')
      const slug = first.json().items[0].slug as string
      const urls = [
        '/categories',
        `/categories/${slug}/products?limit=5`,
        `/products?category=${slug}&limit=5`,
        '/products?featured=true&limit=5',
      ]
      for (const url of urls) expect((await get(a, url)).statusCode, url).toBe(200)
      for (const url of urls) await expectHit(a, url)
      // /products/featured goes through the service's @cached method, not a route cache: no x-cache.
      const featured = await get(a, '/products/featured?limit=3')
      const before = await queryCount(a)
      expect((await get(a, '/products/featured?limit=3')).body).toBe(featured.body)
      expect(await queryCount(a)).toBe(before)
    })

    it('pagination: every page is cached and the walk is the same from the cache', async () => {
      const a = await app(scope())
      const slug = (await get(a, '/categories')).json().items[1].slug as string
      const walk = async () => {
        const seen: number[] = []
        let url: string | null = `/categories/${slug}/products?limit=4`
        while (url) {
          const page: LightMyRequestResponse = await get(a, url)
          seen.push(...ids(page))
          const next = page.json().nextCursor as string | null
          url = next ? `/categories/${slug}/products?limit=4&cursor=${next}` : null
        }
        return seen
      }
      const cold = await walk()
      const before = await queryCount(a)
      expect(await walk()).toEqual(cold)
      expect(await queryCount(a)).toBe(before)
      expect(new Set(cold).size).toBe(cold.length)
    })

    it('list pages send link (first, next) and x-total-count, and a hit replays them', async () => {
      const a = await app(scope())
      const slug = (await get(a, '/categories')).json().items[0].slug as string
      for (const url of [`/categories/${slug}/products?limit=2`, `/products?category=${slug}&limit=2`]) {
        const miss = await get(a, url)
        const total = Number(miss.headers['x-total-count'])
        expect(total, url).toBeGreaterThan(2)
        const links = [miss.headers.link].flat().join(', ')
        expect(links).toContain('rel="first"')
        expect(links).toContain(`cursor=${miss.json().nextCursor}>; rel="next"`)
        const hit = await expectHit(a, url)
        expect(hit.headers.link).toEqual(miss.headers.link)
        expect(hit.headers['x-total-count']).toBe(String(total))
      }
    })

    it('404s are cached briefly and validation errors never', async () => {
      const a = await app(scope())
      expect((await get(a, '/products/987654321')).statusCode).toBe(404)
      const again = await expectHit(a, '/products/987654321')
      expect(again.statusCode).toBe(404)
      const bad1 = await get(a, '/products?limit=abc')
      const bad2 = await get(a, '/products?limit=abc')
      expect(bad1.statusCode).toBe(400)
      expect(bad2.statusCode).toBe(400)
      expect(bad2.headers['x-cache']).toBe('MISS')
    })
  })

  describe('invalidation on writes', () => {
    it('create: the product replaces its cached 404 and appears in lists and counts', async () => {
      const a = await app(scope())
      const count = async () =>
        (await get(a, '/categories')).json().items.find((c: { slug: string }) => c.slug === 'books')
          .productCount
      const booksBefore = await count()
      const listBefore = ids(await get(a, '/products?category=books&limit=100'))
      const created = await a.inject({
        method: 'POST',
        url: '/products',
        payload: {
          sku: sku(),
          name: 'Lamp',
          price: '9.90',
          currency: 'EUR',
          categorySlug: 'books',
          featured: true,
        },
      })
      expect(created.statusCode).toBe(201)
      const product = created.json()
      expect(await count()).toBe(booksBefore + 1)
      const listAfter = ids(await get(a, '/products?category=books&limit=100'))
      expect(listAfter.length).toBeGreaterThanOrEqual(Math.min(100, listBefore.length))
      expect((await get(a, `/products/${product.id}`)).json()).toEqual(product)
      expect(ids(await get(a, '/products/featured?limit=100'))).toContain(product.id)
    })

    it('update: price change is visible at once on the product and in its lists', async () => {
      const a = await app(scope())
      const product = (await get(a, '/products/3')).json()
      await get(a, `/products?category=${product.categorySlug}&limit=100`)
      const newPrice = `${(Number(product.price) + 1).toFixed(2)}`
      const patched = await a.inject({ method: 'PATCH', url: '/products/3', payload: { price: newPrice } })
      expect(patched.statusCode).toBe(200)
      const fresh = await get(a, '/products/3')
      expect(fresh.headers['x-cache']).toBe('MISS')
      expect(fresh.json().price).toBe(newPrice)
      const list = (await get(a, `/products?category=${product.categorySlug}&limit=100`)).json()
      expect(list.items.find((p: { id: number }) => p.id === 3)?.price).toBe(newPrice)
    })

    it('update: other products of the same category stay cached (a product depends on its own row)', async () => {
      const a = await app(scope())
      const product = (await get(a, '/products/4')).json()
      const sameCategory = ids(await get(a, `/products?category=${product.categorySlug}&limit=100`))
      const other = sameCategory.find((id) => id !== 4)!
      await get(a, `/products/${other}`)
      await expectHit(a, `/products/${other}`)
      const patched = await a.inject({ method: 'PATCH', url: '/products/4', payload: { stock: 7 } })
      expect(patched.statusCode).toBe(200)
      expect((await get(a, '/products/4')).headers['x-cache']).toBe('MISS')
      await expectHit(a, `/products/${other}`)
    })

    it('category move: leaves the old lists, joins the new ones, counts follow', async () => {
      const a = await app(scope())
      const created = (
        await a.inject({
          method: 'POST',
          url: '/products',
          payload: { sku: sku(), name: 'Mover', price: '1.00', currency: 'EUR', categorySlug: 'books' },
        })
      ).json()
      const categories = (await get(a, '/categories')).json().items as Array<{
        slug: string
        productCount: number
      }>
      const target = categories.find((c) => c.slug !== 'books')!.slug
      const countOf = async (slug: string) =>
        ((await get(a, '/categories')).json().items as Array<{ slug: string; productCount: number }>).find(
          (c) => c.slug === slug,
        )!.productCount
      const [booksBefore, targetBefore] = [await countOf('books'), await countOf(target)]
      expect(
        ids(await get(a, '/categories/books/products?limit=100&cursor=' + cursorBefore(created.id))),
      ).toContain(created.id)
      await get(a, `/categories/${target}/products?limit=100&cursor=${cursorBefore(created.id)}`)
      const moved = await a.inject({
        method: 'PATCH',
        url: `/products/${created.id}`,
        payload: { categorySlug: target },
      })
      expect(moved.statusCode).toBe(200)
      expect(
        ids(await get(a, `/categories/books/products?limit=100&cursor=${cursorBefore(created.id)}`)),
      ).not.toContain(created.id)
      expect(
        ids(await get(a, `/categories/${target}/products?limit=100&cursor=${cursorBefore(created.id)}`)),
      ).toContain(created.id)
      expect(await countOf('books')).toBe(booksBefore - 1)
      expect(await countOf(target)).toBe(targetBefore + 1)
      expect((await get(a, `/products/${created.id}`)).json().categorySlug).toBe(target)
    })

    it('featured flip: the featured lists follow', async () => {
      const a = await app(scope())
      const created = (
        await a.inject({
          method: 'POST',
          url: '/products',
          payload: { sku: sku(), name: 'Star', price: '2.00', currency: 'EUR', categorySlug: 'books' },
        })
      ).json()
      expect(ids(await get(a, '/products/featured?limit=100'))).not.toContain(created.id)
      await get(a, `/products?featured=true&limit=100&cursor=${cursorBefore(created.id)}`)
      await a.inject({ method: 'PATCH', url: `/products/${created.id}`, payload: { featured: true } })
      expect(ids(await get(a, '/products/featured?limit=100'))).toContain(created.id)
      expect(
        ids(await get(a, `/products?featured=true&limit=100&cursor=${cursorBefore(created.id)}`)),
      ).toContain(created.id)
    })

    it('delete: the product is gone from its key and its lists', async () => {
      const a = await app(scope())
      const created = (
        await a.inject({
          method: 'POST',
          url: '/products',
          payload: { sku: sku(), name: 'Gone', price: '3.00', currency: 'EUR', categorySlug: 'books' },
        })
      ).json()
      expect((await get(a, `/products/${created.id}`)).statusCode).toBe(200)
      await get(a, `/categories/books/products?limit=100&cursor=${cursorBefore(created.id)}`)
      expect((await a.inject({ method: 'DELETE', url: `/products/${created.id}` })).statusCode).toBe(204)
      expect((await get(a, `/products/${created.id}`)).statusCode).toBe(404)
      expect(
        ids(await get(a, `/categories/books/products?limit=100&cursor=${cursorBefore(created.id)}`)),
      ).not.toContain(created.id)
    })

    it('GET /categories is invalidated by its URL on writes that move a count, and only those', async () => {
      const a = await app(scope())
      const booksCount = (r: LightMyRequestResponse) =>
        (r.json().items as Array<{ slug: string; productCount: number }>).find((c) => c.slug === 'books')!
          .productCount
      const before = booksCount(await get(a, '/categories'))
      await expectHit(a, '/categories')
      const created = await a.inject({
        method: 'POST',
        url: '/products',
        payload: { sku: sku(), name: 'Counted', price: '4.00', currency: 'EUR', categorySlug: 'books' },
      })
      expect(created.statusCode).toBe(201)
      const after = await get(a, '/categories')
      expect(after.headers['x-cache']).toBe('MISS')
      expect(booksCount(after)).toBe(before + 1)
      // A price change moves no count: the categories entry stays cached.
      const patched = await a.inject({
        method: 'PATCH',
        url: `/products/${created.json().id}`,
        payload: { price: '5.00' },
      })
      expect(patched.statusCode).toBe(200)
      expect(booksCount(await expectHit(a, '/categories'))).toBe(before + 1)
    })

    // Memory stores are per app: only a shared KeyDB makes two instances one cache.
    if (setup.shared)
      it('two instances on one KeyDB stay coherent after writes on either', async () => {
        const s = scope()
        const [a, b] = [await app(s), await app(s)]
        const first = await get(a, '/products/11')
        // The MISS is answered before its fill reaches KeyDB (the store write does not delay the
        // response): the other instance sees the entry soon after, not necessarily at once. It never
        // loads it itself: A's fill holds the lock until its entry is written, so B waits for it.
        const bQueries = await queryCount(b)
        expect((await eventuallyHit(b, '/products/11'))?.headers['x-cache']).toBe('HIT')
        expect(await queryCount(b), 'the second instance loaded the product itself').toBe(bQueries)
        for (const [writer, reader] of [
          [a, b],
          [b, a],
        ] as const) {
          const price = `${(Math.random() * 1000 + 1).toFixed(2)}`
          const r = await writer.inject({ method: 'PATCH', url: '/products/11', payload: { price } })
          expect(r.statusCode).toBe(200)
          const read = await get(reader, '/products/11')
          expect(read.json().price).toBe(price)
          // A fill within cache-tags' clockSkewMs (100 ms) of an invalidation of its tags is not
          // stored (it may have raced it); soon after, the product is cached again, for both.
          for (const app of [reader, writer]) {
            const hit = await eventuallyHit(app, '/products/11')
            expect(hit?.headers['x-cache']).toBe('HIT')
            expect(hit?.json().price).toBe(price)
          }
        }
        expect(first.statusCode).toBe(200)
      })
  })
}

/** A keyset cursor just before `id`, so a page shows the products from `id` on. */
function cursorBefore(id: number): string {
  return encodeCursor(id - 1)
}
