// Regression scenario of issue 13 item 10 (a database the server refuses after a reconnect), fixed.
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import Fastify from 'fastify'
import type { Redis } from 'ioredis'
import { beforeAll, describe, expect } from 'vitest'
import { adminClient, buildApp } from '../../src/apps.js'
import { expectOk, loadFor, shoot, waitUntil } from '../../src/load.js'
import { Origin } from '../../src/origin.js'
import { scenario } from '../../src/scenario.js'
import { warmUp } from '../../src/warm-up.js'

const CACHE_DB = 5
const REFUSED_MS = 1_500
const RECOVERY_BOUND_MS = 5_000

interface LogLine {
  level: number
  msg: string
  err?: { code?: string }
}

/** Keys in every database of the server but `except` (SELECT on a connection of its own). */
async function keysOutside(admin: Redis, databases: number, except: number): Promise<number> {
  let count = 0
  for (let db = 0; db < databases; db++) {
    if (db === except) continue
    await admin.select(db)
    count += await admin.dbsize()
  }
  await admin.select(0)
  return count
}

describe('a database the server refuses after a reconnect', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'keydb-select-refused',
      area: 'faults',
      title: 'Database index refused after a KeyDB restart',
      did: `an app caches on db ${CACHE_DB} of a throwaway server; a second app's connection was moved to db 7 with SELECT; the server comes back with \`--databases 2\` (both indexes refused) for ${REFUSED_MS} ms of requests over 10 keys, then with 16 databases`,
      criterion:
        '0 non-2xx; nothing written to another database while refused; one FST_KEYDB_SELECT_REFUSED error line (no warning per attempt); no unhandled rejection; HITs again on db 5 within 5 s of the server accepting it',
      timeoutMs: 60_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const first = await ctx.redis({ args: ['--databases', '16'] })
      const port = first.port
      const origin = new Origin(fig, 2)
      const logs: LogLine[] = []
      const logger = { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line)) } }
      const app = await buildApp(ctx, {
        keydb: { url: `${first.url}/${CACHE_DB}` },
        fastify: { logger },
        routes: (a) => origin.route(a),
      })
      const other = Fastify({ logger: false })
      ctx.defer(() => other.close())
      await other.register(fastifyKeydb, { url: `${first.url}/1` })
      await other.ready()
      await other.keydb.select(7) // a connection moved at run time: ioredis re-selects it after a reconnect
      expectOk(fig, await loadFor(200, 2, (i) => shoot(app, `/items/${i % 10}`, fig)), 'before')

      await first.kill()
      const small = await ctx.redis({ port, args: ['--databases', '2'] })
      const smallAdmin = await adminClient(ctx, small.url)
      const refused = await loadFor(REFUSED_MS, 2, (i) => shoot(app, `/items/${i % 10}`, fig))
      expectOk(fig, refused, 'while refused')
      const misplaced = await keysOutside(smallAdmin, 2, -1)
      if (misplaced > 0) fig.violation(`${misplaced} key(s) written to a database the app did not ask for`)
      const hitsWhileRefused = refused.filter((s) => s.xCache === 'HIT').length
      smallAdmin.disconnect()

      await small.kill()
      const back = await ctx.redis({ port, args: ['--databases', '16'] })
      const backAdmin = await adminClient(ctx, back.url)
      const recoveredMs = await waitUntil(
        async () => (await shoot(app, '/items/recovery', fig)).xCache === 'HIT',
        RECOVERY_BOUND_MS,
        50,
      )
      await backAdmin.select(CACHE_DB)
      const onCacheDb = await backAdmin.dbsize()
      const elsewhere = await keysOutside(backAdmin, 16, CACHE_DB)
      if (elsewhere > 0) fig.violation(`${elsewhere} key(s) outside db ${CACHE_DB} after recovery`)
      const refusals = logs.filter((l) => l.err?.code === 'FST_KEYDB_SELECT_REFUSED')
      // fastify-keydb's own lines (the cache logs its rate-limited read failures besides).
      const warnings = logs.filter((l) => l.level === 40 && l.msg.startsWith('KeyDB at'))

      fig.set('requests while refused', refused.length)
      fig.set('HITs while refused', hitsWhileRefused)
      fig.set('keys on other databases', misplaced + elsewhere)
      fig.set('FST_KEYDB_SELECT_REFUSED lines', refusals.length)
      fig.set('fastify-keydb warnings', warnings.length)
      fig.set('cached again after, ms', recoveredMs ?? -1)
      fig.set(`keys on db ${CACHE_DB} after recovery`, onCacheDb)

      expect(fig.details).toEqual([])
      expect(hitsWhileRefused).toBe(0)
      expect(refusals).toHaveLength(1)
      expect(warnings.length).toBeLessThanOrEqual(1) // the restart itself: "unreachable"
      expect(recoveredMs).toBeDefined()
      expect(onCacheDb).toBeGreaterThan(0)
    },
  )
})
