import { randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Database } from '../../src/db/client.js'
import { products } from '../../src/db/schema.js'
import type { ProductWriteEvent } from '../../src/types.js'
import { testApp } from '../helpers/app.js'

function uniqueSku(): string {
  return `T-${randomBytes(5).toString('hex')}`
}

function newProduct(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sku: uniqueSku(),
    name: 'Test lamp',
    price: '19.99',
    currency: 'EUR',
    categorySlug: 'books',
    ...overrides,
  }
}

function recorder() {
  const events: ProductWriteEvent[] = []
  return { events, onProductWrite: (event: ProductWriteEvent) => void events.push(event) }
}

/** Fault injection: the first statement after one matching `trigger` fails, inside the transaction. */
function failStatementAfter(database: Database, trigger: RegExp): void {
  let armed = false
  const stop = database.onQuery((query) => {
    if (armed) {
      armed = false
      throw new Error('injected failure')
    }
    if (trigger.test(query)) armed = true
  })
  onTestFinished(stop)
}

async function rowBySku(database: Database, sku: string) {
  const rows = await database.orm.select().from(products).where(eq(products.sku, sku))
  return rows[0]
}

export function writeContract(database: () => Database): void {
  describe('writes', () => {
    it('POST /products creates it, calls the hook with before null, answers 201 with a location', async () => {
      const { events, onProductWrite } = recorder()
      const app = await testApp(database(), { onProductWrite })
      const body = newProduct({ price: '1234567890.5', featured: true, stock: 3, description: 'bright' })
      const response = await app.inject({ method: 'POST', url: '/products', payload: body })
      expect(response.statusCode).toBe(201)
      const created = response.json()
      expect(created).toMatchObject({
        sku: body.sku,
        price: '1234567890.50',
        categorySlug: 'books',
        featured: true,
      })
      expect(response.headers.location).toBe(`/products/${created.id}`)
      expect(events).toEqual([{ kind: 'create', before: null, after: created }])
      expect((await app.inject(`/products/${created.id}`)).json()).toEqual(created)
    })

    it('POST /products answers 400 naming the field, and writes nothing', async () => {
      const app = await testApp(database())
      const cases: [Record<string, unknown>, string][] = [
        [newProduct({ name: undefined }), 'name'],
        [newProduct({ price: 19.99 }), 'price'],
        [newProduct({ price: '19.999' }), 'price'],
        [newProduct({ price: '-1.00' }), 'price'],
        [newProduct({ currency: 'eur' }), 'currency'],
        [newProduct({ currency: 'EURO' }), 'currency'],
        [newProduct({ sku: '' }), 'sku'],
        [newProduct({ stock: '5' }), 'stock'],
        [newProduct({ stock: -1 }), 'stock'],
        [newProduct({ featured: 'yes' }), 'featured'],
        [newProduct({ colour: 'red' }), 'colour'],
        [newProduct({ categorySlug: 'no-such-aisle' }), 'categorySlug'],
      ]
      const before = await database().orm.$count(products)
      for (const [payload, field] of cases) {
        const response = await app.inject({ method: 'POST', url: '/products', payload })
        expect(response.statusCode, field).toBe(400)
        const error = response.json()
        expect(error, field).toMatchObject({ code: 'FST_DEMO_VALIDATION', field })
        expect(error.message, field).toContain(field)
      }
      expect(await database().orm.$count(products)).toBe(before)
    })

    it('POST /products with an existing sku answers 409 and does not call the hook', async () => {
      const { events, onProductWrite } = recorder()
      const app = await testApp(database(), { onProductWrite })
      const response = await app.inject({
        method: 'POST',
        url: '/products',
        payload: newProduct({ sku: 'SKU-000001' }),
      })
      expect(response.statusCode).toBe(409)
      expect(response.json()).toMatchObject({ code: 'FST_DEMO_CONFLICT', field: 'sku' })
      expect(events).toEqual([])
    })

    it('PATCH /products/:id updates, moves category, and hands before/after to the hook', async () => {
      const { events, onProductWrite } = recorder()
      const app = await testApp(database(), { onProductWrite })
      const created = (await app.inject({ method: 'POST', url: '/products', payload: newProduct() })).json()
      const response = await app.inject({
        method: 'PATCH',
        url: `/products/${created.id}`,
        payload: { price: '5.5', categorySlug: 'audio', featured: true },
      })
      expect(response.statusCode).toBe(200)
      const updated = response.json()
      expect(updated).toMatchObject({ id: created.id, price: '5.50', categorySlug: 'audio', featured: true })
      expect(events[1]).toEqual({ kind: 'update', before: created, after: updated })
      expect((await app.inject(`/products/${created.id}`)).json()).toEqual(updated)
    })

    it('PATCH /products/:id: 404, 400 naming the field, 409, and the row stays as it was', async () => {
      const { events, onProductWrite } = recorder()
      const app = await testApp(database(), { onProductWrite })
      const created = (await app.inject({ method: 'POST', url: '/products', payload: newProduct() })).json()
      const url = `/products/${created.id}`
      const missing = await app.inject({ method: 'PATCH', url: '/products/999999', payload: { stock: 1 } })
      expect(missing.statusCode).toBe(404)
      const cases: [Record<string, unknown>, number, string][] = [
        [{}, 400, 'body'],
        [{ price: '1.234' }, 400, 'price'],
        [{ id: 7 }, 400, 'id'],
        [{ stock: 1, categorySlug: 'no-such-aisle' }, 400, 'categorySlug'],
        [{ stock: 1, sku: 'SKU-000001' }, 409, 'sku'],
      ]
      for (const [payload, status, field] of cases) {
        const response = await app.inject({ method: 'PATCH', url, payload })
        expect(response.statusCode, field).toBe(status)
        expect(response.json(), field).toMatchObject({ field })
      }
      expect((await app.inject(url)).json()).toEqual(created)
      expect(events.map((event) => event.kind)).toEqual(['create'])
    })

    it('DELETE /products/:id answers 204, calls the hook with after null, then 404', async () => {
      const { events, onProductWrite } = recorder()
      const app = await testApp(database(), { onProductWrite })
      const created = (await app.inject({ method: 'POST', url: '/products', payload: newProduct() })).json()
      const response = await app.inject({ method: 'DELETE', url: `/products/${created.id}` })
      expect(response.statusCode).toBe(204)
      expect(response.body).toBe('')
      expect(events[1]).toEqual({ kind: 'delete', before: created, after: null })
      expect((await app.inject(`/products/${created.id}`)).statusCode).toBe(404)
      expect((await app.inject({ method: 'DELETE', url: `/products/${created.id}` })).statusCode).toBe(404)
      expect((await app.inject({ method: 'DELETE', url: '/products/abc' })).json()).toMatchObject({
        field: 'id',
      })
    })

    it('a create that fails after its INSERT leaves no row and calls no hook', async () => {
      const { events, onProductWrite } = recorder()
      const app = await testApp(database(), { onProductWrite })
      const payload = newProduct()
      failStatementAfter(database(), /^insert into "products"/)
      const response = await app.inject({ method: 'POST', url: '/products', payload })
      expect(response.statusCode).toBe(500)
      expect(response.json()).toMatchObject({ code: 'FST_DEMO_INTERNAL' })
      expect(await rowBySku(database(), payload.sku as string)).toBeUndefined()
      expect(events).toEqual([])
    })

    it('an update that fails after its UPDATE leaves the row as it was', async () => {
      const app = await testApp(database())
      const created = (await app.inject({ method: 'POST', url: '/products', payload: newProduct() })).json()
      failStatementAfter(database(), /^update "products"/)
      const url = `/products/${created.id}`
      const response = await app.inject({
        method: 'PATCH',
        url,
        payload: { price: '1.00', categorySlug: 'audio' },
      })
      expect(response.statusCode).toBe(500)
      expect((await app.inject(url)).json()).toEqual(created)
    })

    it('the hook is awaited: the response waits for it', async () => {
      let release!: () => void
      let hookStarted!: () => void
      const started = new Promise<void>((resolve) => {
        hookStarted = resolve
      })
      const onProductWrite = () => {
        hookStarted()
        return new Promise<void>((resolve) => {
          release = resolve
        })
      }
      const app = await testApp(database(), { onProductWrite })
      let answered = false
      const pending = app
        .inject({ method: 'POST', url: '/products', payload: newProduct() })
        .then((response) => {
          answered = true
          return response
        })
      await started
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(answered).toBe(false)
      release()
      expect((await pending).statusCode).toBe(201)
    })

    it('a failing hook answers 500 while the committed write stays', async () => {
      const app = await testApp(database(), {
        onProductWrite: () => {
          throw new Error('invalidation failed')
        },
      })
      const payload = newProduct()
      const response = await app.inject({ method: 'POST', url: '/products', payload })
      expect(response.statusCode).toBe(500)
      expect(await rowBySku(database(), payload.sku as string)).toMatchObject({ sku: payload.sku })
    })
  })
}
