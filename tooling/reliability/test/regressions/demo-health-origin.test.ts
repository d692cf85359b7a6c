// Regression scenario of issue 13 item 12 (the demo's /health said ok while its origin was broken), fixed.
import { buildApp } from '@fastkey/demo/src/app.js'
import type { FastifyInstance } from 'fastify'
import postgres from 'postgres'
import { beforeAll, describe, expect } from 'vitest'
import { Figures } from '../../src/figures.js'
import { deferred, type Shot, shoot, sleep } from '../../src/load.js'
import { testDatabase } from '../../src/postgres.js'
import { type ScenarioContext, scenario } from '../../src/scenario.js'
import { warmUp } from '../../src/warm-up.js'

const HEALTH_TIMEOUT_MS = 300

interface HealthBody {
  status?: string
  db?: { ok?: boolean; error?: string }
  cache?: { ok?: boolean }
}

async function demoApp(ctx: ScenarioContext) {
  const db = await testDatabase(ctx)
  const app = await buildApp({
    database: { url: db.url, poolMax: 2, seed: { products: 20 } },
    cache: {},
    healthTimeoutMs: HEALTH_TIMEOUT_MS,
  })
  ctx.defer(() => app.close())
  return { db, app }
}

function body(shot: Shot): HealthBody {
  try {
    return JSON.parse(shot.body) as HealthBody
  } catch {
    return {}
  }
}

/** The demo's first app compiles its schemas and runs its migrations (one-off work): unmeasured. */
async function warmUpDemo(): Promise<void> {
  const cleanups: Array<() => unknown> = []
  const ctx = {
    fig: new Figures(),
    defer: (f: () => unknown) => void cleanups.push(f),
  } as unknown as ScenarioContext
  try {
    const { app } = await demoApp(ctx)
    await app.inject('/health')
    await app.inject('/products/1')
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
}

/** `/health` and a cold read (a product never read before: the cache cannot hide the origin). */
async function probe(app: FastifyInstance, id: number, fig: Figures) {
  const health = await shoot(app, '/health', fig)
  const read = await shoot(app, `/products/${id}`, fig)
  return { health, read }
}

describe("the demo's /health reflects its origin", () => {
  beforeAll(async () => {
    await warmUp()
    await warmUpDemo()
  })

  scenario(
    {
      id: 'demo-health-origin',
      area: 'server',
      title: 'Demo health check while its products table is gone or locked',
      did: `the demo on a Postgres database of its own (cache in memory): /health and a cold read while healthy, with the products table renamed away, with it locked by another session (ACCESS EXCLUSIVE, health deadline ${HEALTH_TIMEOUT_MS} ms), and after it is back`,
      criterion:
        '/health is 200 `ok` exactly when cold reads succeed; 503 `down` with `db.ok: false` and the reason (and the cache part still reported) while the table is gone or locked, within the deadline + 100 ms, the probe cancelled on the server; never 200 while a cold read fails',
    },
    async (ctx) => {
      const { fig } = ctx
      const { db, app } = await demoApp(ctx)
      const phases: Array<{ name: string; health: Shot; read: Shot }> = []
      phases.push({ name: 'healthy', ...(await probe(app, 1, fig)) })

      await db.sql.unsafe('alter table products rename to products_gone')
      phases.push({ name: 'table gone', ...(await probe(app, 2, fig)) })
      await db.sql.unsafe('alter table products_gone rename to products')

      // A migration (or a stuck transaction) holds the table: reads wait, health must not say ok.
      const locker = postgres(db.url, { max: 1, onnotice: () => {} })
      ctx.defer(() => locker.end({ timeout: 2 }))
      const release = deferred<void>()
      const locked = deferred<void>()
      const holding = locker
        .begin(async (tx) => {
          await tx.unsafe('lock table products in access exclusive mode')
          locked.resolve()
          await release.promise
        })
        .catch(() => {})
      await locked.promise
      const lockedHealth = await shoot(app, '/health', fig)
      await sleep(100)
      // The probe must not stay queued behind the lock, holding one of the app's pool connections.
      const waiting = await db.sql<Array<{ n: number }>>`
        select count(*)::int as n from pg_stat_activity
        where datname = ${db.name} and pid <> pg_backend_pid() and state = 'active'
          and query like '%limit 1) as category%'`
      const probesWaiting = waiting[0]?.n ?? -1
      const lockedRead = shoot(app, '/products/3', fig)
      release.resolve()
      await holding
      phases.push({ name: 'table locked', health: lockedHealth, read: await lockedRead })
      phases.push({ name: 'back', ...(await probe(app, 4, fig)) })

      for (const { name, health, read } of phases) {
        const says = body(health)
        fig.set(
          `${name}: /health`,
          `${health.status} ${says.status ?? '?'} in ${Math.round(health.latencyMs)} ms`,
        )
        fig.set(`${name}: cold read`, read.status)
        if (says.db?.error) fig.set(`${name}: db.error`, says.db.error)
        const origin = name === 'table locked' ? 'down' : read.status === 200 ? 'up' : 'down'
        if (origin === 'down' && health.status === 200)
          fig.violation(`${name}: /health said ${says.status} (200)`)
        if (origin === 'up' && (health.status !== 200 || says.status !== 'ok'))
          fig.error(`${name}: /health ${health.status} ${says.status} while reads succeed`)
        if (origin === 'down' && (says.status !== 'down' || says.db?.ok !== false || says.cache?.ok !== true))
          fig.error(`${name}: body ${health.body.slice(0, 200)}`)
      }
      fig.set('probes still waiting on the lock after the deadline', probesWaiting)
      const gone = phases.find((p) => p.name === 'table gone')!
      expect(gone.read.status).toBe(500) // the origin really is broken
      expect(fig.details).toEqual([])
      expect(lockedHealth.latencyMs).toBeLessThan(HEALTH_TIMEOUT_MS + 100)
      expect(probesWaiting).toBe(0)
    },
  )
})
