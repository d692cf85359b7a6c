import { request as httpRequest } from 'node:http'
import { beforeAll, describe, expect } from 'vitest'
import { buildApp, sharedRedisNamespace } from '../src/apps.js'
import { deferred, expectOk, httpGet, load, type Shot, shoot, sleep } from '../src/load.js'
import { testDatabase } from '../src/postgres.js'
import { scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

const TTL_MS = 300
const GRACE_MS = 1_500

describe('origin (Postgres) faults', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'origin-down-stale-if-error',
      area: 'faults',
      title: 'Origin (Postgres) down: stale-if-error, then the error',
      did: `route reading its own Postgres database, ttl ${TTL_MS} ms, staleIfError ${GRACE_MS} ms; 5 keys filled; then its queries fail (table renamed away) and its backends are terminated; 25 requests inside the grace window (5 concurrent over the 5 keys) and a burst of 20 on one key, 2 after it, and 2 once the database is back`,
      criterion:
        'inside grace: every request 200 STALE with the last good body; after grace: the origin error (500) passes through and is not stored; at most one origin attempt per request and none without requests; fresh again once the database is back',
    },
    async (ctx) => {
      const { fig } = ctx
      const db = await testDatabase(ctx)
      await db.sql`create table items (id int primary key, name text not null)`
      await db.sql`insert into items select i, 'item ' || i from generate_series(1, 5) i`
      const { url, namespace } = await sharedRedisNamespace(ctx, 'origin')
      let attempts = 0
      const app = await buildApp(ctx, {
        keydb: { url },
        cache: { keyPrefix: namespace },
        routes: (app) =>
          app.get(
            '/items/:id',
            { config: { cache: { ttlMs: TTL_MS, staleIfErrorMs: GRACE_MS } } },
            async (req) => {
              attempts++
              fig.origin()
              const [row] =
                await db.sql`select id, name from items where id = ${Number((req.params as { id: string }).id)}`
              return row
            },
          ),
      })
      const ids = [1, 2, 3, 4, 5]
      const good = new Map<number, string>()
      for (const id of ids) {
        const shot = await shoot(app, `/items/${id}`, fig)
        expectOk(fig, [shot], 'fill')
        good.set(id, shot.body)
      }
      const filledAt = performance.now()
      await sleep(TTL_MS + 50)
      await db.down('items')

      const check = (shots: Shot[], label: string, idOf: (i: number) => number) => {
        expectOk(fig, shots, label)
        shots.forEach((s, i) => {
          if (s.xCache !== 'STALE') fig.error(`${label}: x-cache ${s.xCache}`)
          if (s.body !== good.get(idOf(i))) fig.violation(`${label}: body ${s.body}`)
        })
      }
      const requestsBefore = fig.requests
      const attemptsBefore = attempts
      const idOf = (i: number) => ids[i % ids.length]!
      check(await load(25, 5, (i) => shoot(app, `/items/${idOf(i)}`, fig)), 'inside grace', idOf)
      check(await load(20, 20, () => shoot(app, '/items/1', fig)), 'burst', () => 1)
      fig.set('origin attempts, 20-request burst on one key', attempts - attemptsBefore - 25)
      const insideRequests = fig.requests - requestsBefore
      const insideAttempts = attempts - attemptsBefore
      fig.set('origin attempts inside grace / requests', `${insideAttempts}/${insideRequests}`)
      const quietAttempts = attempts
      await sleep(300)
      fig.set('origin attempts with no requests (300 ms)', attempts - quietAttempts)
      expect(attempts).toBe(quietAttempts)

      await sleep(Math.max(0, filledAt + TTL_MS + GRACE_MS + 50 - performance.now()))
      const after = [await shoot(app, '/items/1', fig), await shoot(app, '/items/1', fig)]
      const afterAttempts = attempts
      fig.set('status after grace', after.map((s) => s.status).join(','))
      for (const s of after)
        if (s.status !== 500 || s.xCache !== 'MISS') fig.violation(`after grace: ${s.status} ${s.xCache}`)

      await db.up('items')
      const back = await shoot(app, '/items/2', fig)
      const hit = await shoot(app, '/items/2', fig)
      expectOk(fig, [back, hit], 'database back')
      fig.set('after recovery', `${back.xCache} then ${hit.xCache}`)

      expect(fig.details).toEqual([])
      expect(insideAttempts).toBeLessThanOrEqual(insideRequests)
      expect(afterAttempts - quietAttempts).toBe(2) // both post-grace requests asked the origin: nothing was stored
      expect(hit.xCache).toBe('HIT')
    },
  )

  const WAITERS = 20
  scenario(
    {
      id: 'origin-client-gone-during-fill',
      area: 'faults',
      title: 'Client gone while the origin hangs on its fill',
      did: `route on KeyDB (lock wait 5 s, the default), listening on a real port; a client asks a cold key and disconnects while the origin call for it hangs; then ${WAITERS} concurrent requests for that key over HTTP while the hung call still runs`,
      criterion: `every one of the ${WAITERS} answers 200 in the origin's time (under 2.5 s, half the lock wait), with one origin call between them: the disconnected request's fill ended with its response, it did not hold the lock and its waiters for the whole lock wait`,
    },
    async (ctx) => {
      const { fig } = ctx
      const { url, namespace } = await sharedRedisNamespace(ctx, 'client-gone')
      const hung = deferred<void>()
      const entered = deferred<void>()
      let calls = 0
      ctx.defer(() => hung.resolve())
      const app = await buildApp(ctx, {
        keydb: { url },
        cache: { keyPrefix: namespace },
        routes: (app) =>
          app.get('/items/:id', { config: { cache: { ttlMs: 60_000 } } }, async (req) => {
            calls++
            fig.origin()
            if (calls === 1) {
              entered.resolve()
              await hung.promise
            } else await sleep(20)
            return { id: (req.params as { id: string }).id, call: calls }
          }),
      })
      await app.listen({ port: 0, host: '127.0.0.1' })
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
      const gone = httpRequest(`${base}/items/1`)
      gone.on('error', () => {}) // destroyed on purpose
      gone.end()
      await entered.promise
      gone.destroy()
      await sleep(50) // the server sees the socket close

      const started = performance.now()
      const waiters = await Promise.all(
        Array.from({ length: WAITERS }, () => httpGet(`${base}/items/1`, fig)),
      )
      const slowestMs = performance.now() - started
      fig.set('slowest waiter ms', Math.round(slowestMs))
      fig.set('origin calls for the waiters', calls - 1)
      expectOk(fig, waiters, 'after the client left')
      if (slowestMs >= 2_500) fig.violation(`the waiters took ${Math.round(slowestMs)} ms: the lock was held`)
      if (calls - 1 !== 1) fig.violation(`${calls - 1} origin calls for ${WAITERS} waiters`)
      hung.resolve()

      expect(fig.details).toEqual([])
    },
  )
})
