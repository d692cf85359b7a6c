import { buildApp } from '@fastkey/demo/src/app.js'
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect } from 'vitest'
import { Figures } from '../src/figures.js'
import { shoot } from '../src/load.js'
import { testDatabase } from '../src/postgres.js'
import { type ScenarioContext, scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

const GOOD = { sku: 'REL-1', name: 'Lamp', price: '19.99', currency: 'EUR', categorySlug: 'books' }

/** Bodies the demo must refuse with 400, each naming what is wrong. */
const BAD_CREATES: Array<Record<string, unknown>> = [
  { ...GOOD, name: undefined },
  { ...GOOD, price: 19.99 },
  { ...GOOD, price: '19.999' },
  { ...GOOD, price: '-1' },
  { ...GOOD, price: '1e3' },
  { ...GOOD, currency: 'eur' },
  { ...GOOD, sku: '' },
  { ...GOOD, sku: 'a b' },
  { ...GOOD, sku: 'x'.repeat(65) },
  { ...GOOD, stock: '5' },
  { ...GOOD, stock: -1 },
  { ...GOOD, stock: 1.5 },
  { ...GOOD, featured: 'yes' },
  { ...GOOD, categorySlug: 'no-such-category' },
  { ...GOOD, admin: true },
  { ...GOOD, name: 'n'.repeat(201) },
]
const BAD_PATCHES: Array<Record<string, unknown>> = [
  {},
  { price: 1 },
  { stock: -5 },
  { id: 2 },
  { categorySlug: 'nope' },
  { price: '1.999' },
]

async function demoApp(
  ctx: ScenarioContext,
): Promise<{ app: FastifyInstance; count(): Promise<number>; row(id: number): Promise<unknown> }> {
  const db = await testDatabase(ctx)
  const app = await buildApp({ database: { url: db.url, poolMax: 2, seed: { products: 30 } }, cache: {} })
  ctx.defer(() => app.close())
  return {
    app,
    count: async () => Number((await db.sql`select count(*)::int as n from products`)[0]!.n),
    row: async (id) => (await db.sql`select * from products where id = ${id}`)[0],
  }
}

/** The statement right after the first one matching `trigger` fails, inside the transaction. */
function failAfter(app: FastifyInstance, trigger: RegExp): () => void {
  let armed = false
  return app.database.onQuery((query) => {
    if (armed) {
      armed = false
      throw new Error('injected failure')
    }
    if (trigger.test(query)) armed = true
  })
}

/** The demo's first app compiles its schemas and migrations (~250 ms of one-off work): unmeasured. */
async function warmUpDemo(): Promise<void> {
  const cleanups: Array<() => unknown> = []
  const ctx = {
    fig: new Figures(),
    defer: (f: () => unknown) => void cleanups.push(f),
  } as unknown as ScenarioContext
  try {
    const { app } = await demoApp(ctx)
    await app.inject('/products/1')
    await app.inject({ method: 'POST', url: '/products', payload: { ...GOOD, price: 1 } })
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
}

describe('demo write routes', () => {
  beforeAll(async () => {
    await warmUp()
    await warmUpDemo()
  })

  scenario(
    {
      id: 'demo-writes-bad-input',
      area: 'security',
      title: 'Demo write routes: bad input is a 400 and never partially applies',
      did: `demo app (own Postgres database, 30 products, cache on): ${BAD_CREATES.length} bad POST bodies, ${BAD_PATCHES.length} bad PATCH bodies, malformed JSON; then a statement failing inside the transaction after the INSERT, after the UPDATE, and on the DELETE`,
      criterion:
        "every bad body answers 400 (FST_DEMO_VALIDATION or Fastify's code) and changes nothing; a failing statement rolls the whole write back (row count and row unchanged, 500); no invalidation for a write that did not happen; reads stay correct",
    },
    async (ctx) => {
      const { fig } = ctx
      const { app, count, row } = await demoApp(ctx)
      const invalidations: string[][] = []
      app.cache.events.on('invalidate', (e) => void invalidations.push([...e.tags]))
      const rows = await count()
      const product = await row(1)
      await shoot(app, '/products/1', fig) // cached
      const statuses = new Map<string, number>()
      const write = async (
        method: 'POST' | 'PATCH' | 'DELETE',
        url: string,
        payload?: unknown,
        raw?: string,
      ) => {
        const r = await app.inject({
          method,
          url,
          ...(raw !== undefined
            ? { body: raw, headers: { 'content-type': 'application/json' } }
            : payload !== undefined && { payload: payload as object }),
        })
        fig.observe({ status: r.statusCode, latencyMs: 0 })
        const label = `${r.statusCode} ${r.json<{ code?: string }>().code ?? ''}`.trim()
        statuses.set(label, (statuses.get(label) ?? 0) + 1)
        return r
      }
      for (const body of BAD_CREATES)
        if ((await write('POST', '/products', body)).statusCode !== 400)
          fig.violation(`POST ${JSON.stringify(body).slice(0, 60)} not refused`)
      for (const body of BAD_PATCHES)
        if ((await write('PATCH', '/products/1', body)).statusCode !== 400)
          fig.violation(`PATCH ${JSON.stringify(body)} not refused`)
      if ((await write('POST', '/products', undefined, '{"sku": "x",')).statusCode !== 400)
        fig.violation('malformed JSON not refused')
      if ((await count()) !== rows) fig.violation('a refused write changed the row count')

      const faults: Array<[string, RegExp, () => Promise<unknown>]> = [
        ['insert', /^insert/i, () => write('POST', '/products', GOOD)],
        ['update', /^update/i, () => write('PATCH', '/products/1', { price: '1.00', categorySlug: 'audio' })],
        ['delete', /^select/i, () => write('DELETE', '/products/1')],
      ]
      for (const [name, trigger, run] of faults) {
        const stop = failAfter(app, trigger)
        const r = (await run()) as { statusCode: number }
        stop()
        if (r.statusCode !== 500) fig.violation(`${name} with a failing statement: ${r.statusCode}`)
      }
      const unchanged = JSON.stringify(await row(1)) === JSON.stringify(product)
      if (!unchanged) fig.violation('product 1 changed by a rolled-back write')
      if ((await count()) !== rows) fig.violation('a rolled-back write changed the row count')
      const read = await shoot(app, '/products/1', fig)
      if (read.body.includes('"1.00"')) fig.violation(`read after rollback: ${read.body.slice(0, 80)}`)
      fig.set('answers', [...statuses.entries()].map(([k, v]) => `${k} ×${v}`).join(', '))
      fig.set('invalidations for writes that did not happen', invalidations.length)

      expect(fig.details).toEqual([])
      expect(invalidations).toEqual([])
      const ok = await write('POST', '/products', GOOD)
      expect(ok.statusCode).toBe(201)
      expect(await count()).toBe(rows + 1)
    },
  )
})
