// Regression scenario of issue 13 item 10 (bad connection configuration), fixed: see RELIABILITY.md.
import { type FastifyKeydbOptions, fastifyKeydb } from '@fastkey/fastify-keydb'
import { redisUrl } from '@fastkey/test-services'
import Fastify from 'fastify'
import { beforeAll, describe, expect } from 'vitest'
import { sleep } from '../../src/load.js'
import { scenario } from '../../src/scenario.js'
import { warmUp } from '../../src/warm-up.js'

/** Long enough for a registration that wrongly succeeds to hit its first reconnect/SELECT. */
const SETTLE_MS = 300

async function registration(options: FastifyKeydbOptions): Promise<{ code: string; ms: number }> {
  const app = Fastify({ logger: false })
  const started = performance.now()
  try {
    await app.register(fastifyKeydb, { connectTimeoutMs: 1_000, ...options })
    await app.ready()
    // Registered: a wrong database or a crash still to come would show up here.
    await sleep(SETTLE_MS)
    return { code: 'registered', ms: performance.now() - started }
  } catch (error) {
    return { code: String((error as { code?: string }).code), ms: performance.now() - started }
  } finally {
    await app.close()
  }
}

describe('bad connection configuration', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'keydb-bad-url',
      area: 'server',
      title: 'Bad KeyDB URLs and database indexes',
      did: 'registers fastify-keydb with 13 bad configurations: no host, port 0, a db index that is not an integer (`/abc`, `/3abc`, `/-1`, `?db=x`, `db: 1.5`), a db index the server refuses (`/99` of 16, `db: 16`), db ≠ 0 on a cluster (seed URL `/2`, `redisOptions.db: 1`), another scheme',
      criterion:
        'every one fails registration with FST_KEYDB_INVALID_OPTION (never registered on db 0, never a crash); the 2 refused indexes within connectTimeoutMs; no unhandled rejection or uncaught exception',
    },
    async (ctx) => {
      const { fig } = ctx
      const shared = await redisUrl()
      const host = new URL(shared).host
      const cases: Array<[string, FastifyKeydbOptions]> = [
        ['no host', { url: 'redis://' }],
        ['port 0', { url: 'redis://127.0.0.1:0' }],
        ['db "abc"', { url: `redis://${host}/abc` }],
        ['db "3abc"', { url: `redis://${host}/3abc` }],
        ['db "-1"', { url: `redis://${host}/-1` }],
        ['db in the query "x"', { url: `redis://${host}?db=x` }],
        ['db option 1.5', { url: `redis://${host}`, db: 1.5 }],
        ['db 99 of 16 (server refuses)', { url: `redis://${host}/99` }],
        ['db option 16 of 16 (server refuses)', { url: `redis://${host}`, db: 16 }],
        ['cluster seed URL with db 2', { cluster: { nodes: [`redis://${host}/2`] } }],
        ['cluster redisOptions.db 1', { cluster: { nodes: [shared], options: { redisOptions: { db: 1 } } } }],
        ['scheme http', { url: `http://${host}` }],
        ['db twice (URL /1 and db option 2)', { url: `redis://${host}/1`, db: 2 }],
      ]
      const refusedMs: number[] = []
      for (const [name, options] of cases) {
        const { code, ms } = await registration(options)
        fig.requests++
        if (name.includes('server refuses')) refusedMs.push(ms)
        if (code !== 'FST_KEYDB_INVALID_OPTION') fig.error(`${name}: ${code}`)
        if (code === 'registered')
          fig.violation(`${name}: registered anyway (another server or database than asked)`)
      }
      fig.set('configurations', cases.length)
      fig.set('refused index detected after, ms (max)', Math.max(...refusedMs))

      expect(fig.details).toEqual([])
      expect(Math.max(...refusedMs)).toBeLessThan(1_000)
    },
  )
})
