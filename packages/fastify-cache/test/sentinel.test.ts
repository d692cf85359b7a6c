import { fastifyKeydb } from '@fastkey/fastify-keydb'
import {
  cleanupPrefix,
  failOver,
  lockSentinelGroup,
  sentinelGroup,
  uniquePrefix,
  warnSentinelSkipped,
} from '@fastkey/test-services'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'
import { fastifyCache } from '../src/index.js'

const group = sentinelGroup()
if (!group) warnSentinelSkipped('@fastkey/fastify-cache sentinel')

/**
 * From SENTINEL FAILOVER to the first HIT of an entry stored on the new master: the client's move
 * (0.4-1.3 s measured in fastify-keydb's test), plus at most one breaker cooldown (1 s by default) if
 * the refused commands during the move opened it, plus margin for a loaded machine.
 */
const RESUME_BOUND_MS = 6_000

async function serverPort(app: FastifyInstance): Promise<number> {
  return Number(/^tcp_port:(\d+)/m.exec(await app.keydb.info('server'))?.[1])
}

describe.skipIf(!group)('fastify-cache through Redis Sentinel', () => {
  let release = () => {}
  // Only the lock: failOver() itself waits until the group has settled after an earlier failover.
  beforeAll(async () => {
    release = await lockSentinelGroup(group!)
  }, 240_000)
  afterAll(() => release())

  // The timeout covers waiting for the group to settle after another file's failover (~20 s).
  test('caches through the sentinel; after a failover caching resumes on the new master without a restart', {
    timeout: 120_000,
  }, async () => {
    const keyPrefix = uniquePrefix('sentinel-cache').slice(0, -1).replaceAll(':', '.')
    const origin = { calls: 0 }
    const app = Fastify()
    onTestFinished(() => app.close())
    await app.register(fastifyKeydb, { sentinels: group!.sentinels, name: group!.name })
    await app.register(fastifyCache, { keyPrefix, defaults: { ttlMs: 60_000 } })
    app.get('/items/:id', { config: { cache: {} } }, async (req) => {
      origin.calls++
      return { id: (req.params as { id: string }).id, call: origin.calls }
    })
    await app.ready()
    onTestFinished(() => cleanupPrefix(app.keydb, `${keyPrefix}:`).then(() => undefined))

    expect((await app.inject('/items/before')).headers['x-cache']).toBe('MISS')
    await app.cache.drain()
    const hit = await app.inject('/items/before')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(origin.calls).toBe(1)

    const failover = await failOver(group!)
    const statuses: number[] = []
    let resumedAt: number | undefined
    for (let i = 0; resumedAt === undefined && performance.now() - failover.requestedAt < 30_000; i++) {
      // A fresh key each round: its MISS is stored now, so its HIT proves the store works again.
      const onNewMaster = async () => (await serverPort(app).catch(() => 0)) === failover.to.port
      const before = await onNewMaster()
      const miss = await app.inject(`/items/after-${i}`)
      await app.cache.drain()
      const again = await app.inject(`/items/after-${i}`)
      statuses.push(miss.statusCode, again.statusCode)
      if (before && again.headers['x-cache'] === 'HIT' && (await onNewMaster())) resumedAt = performance.now()
      else await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const tookMs = (resumedAt ?? Number.NaN) - failover.requestedAt
    console.info(
      `[sentinel] fastify-cache: SENTINEL FAILOVER to the first HIT stored on the new master: ${Math.round(tookMs)} ms ` +
        `(${statuses.length} requests meanwhile, all answered)`,
    )
    // A cache failure never fails a request, during the failover too.
    expect(statuses.filter((status) => status !== 200)).toEqual([])
    expect(resumedAt).toBeDefined()
    expect(tookMs).toBeLessThan(RESUME_BOUND_MS)
  })
})
