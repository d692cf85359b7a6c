import { randomBytes } from 'node:crypto'
import net from 'node:net'
import {
  cleanupPrefix,
  failOver,
  lockSentinelGroup,
  type SentinelGroup,
  sentinelGroup,
} from '@fastkey/test-services'
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect } from 'vitest'
import { buildApp, FAST } from '../src/apps.js'
import { expectOk, load, type Shot, shoot, sleep } from '../src/load.js'
import { Origin } from '../src/origin.js'
import type { ScenarioContext } from '../src/scenario.js'
import { scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

const group = sentinelGroup()
const skip = group ? undefined : 'KEYDB_SENTINELS is not set (CI starts one with .ci/sentinel.sh)'
/** SENTINEL FAILOVER to the first HIT stored on the new master (the FAST breaker cools down in 250 ms). */
const RESUME_BOUND_MS = 5_000

/** Takes the group for this scenario: other test files fail it over too (failOver() waits until it settled). */
async function useGroup(ctx: ScenarioContext): Promise<SentinelGroup> {
  const release = await lockSentinelGroup(group!)
  ctx.defer(release)
  return group!
}

async function serverPort(app: FastifyInstance): Promise<number> {
  return Number(/^tcp_port:(\d+)/m.exec(await app.keydb.info('server'))?.[1])
}

/** Keys written under the namespace are removed through the app's own client before it closes. */
function namespaceFor(ctx: ScenarioContext, app: () => FastifyInstance | undefined, label: string): string {
  const namespace = `rel-${label}-${randomBytes(5).toString('hex')}`
  ctx.defer(async () => {
    const client = app()?.keydb
    if (client) await cleanupPrefix(client, `${namespace}:`).catch(() => 0)
  })
  return namespace
}

describe('Redis Sentinel', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'sentinel-failover',
      area: 'server',
      title: 'Sentinel failover under traffic',
      did: 'app on fastify-keydb through Sentinel (master, replica, sentinel); 20 requests cached; SENTINEL FAILOVER; then a fresh key each round (MISS, then again) until a HIT is stored on the new master',
      criterion: `0 non-2xx during the failover; the client leaves the demoted master at once (it follows +switch-master); first HIT stored on the new master < ${RESUME_BOUND_MS} ms after SENTINEL FAILOVER, no restart`,
      timeoutMs: 300_000,
      skip,
    },
    async (ctx) => {
      const { fig } = ctx
      const { sentinels, name } = await useGroup(ctx)
      let app: FastifyInstance | undefined
      const namespace = namespaceFor(ctx, () => app, 'sentinel')
      const origin = new Origin(fig, 5)
      app = await buildApp(ctx, {
        keydb: { sentinels, name },
        cache: { keyPrefix: namespace },
        routes: (a) => origin.route(a),
      })
      const warm = await load(20, 5, (i) => shoot(app!, `/items/${i % 10}`, fig))
      expectOk(fig, warm, 'before the failover')

      const failover = await failOver(group!)
      let leftOldMasterAt: number | undefined
      let resumedAt: number | undefined
      const during: Shot[] = []
      for (let i = 0; resumedAt === undefined && performance.now() - failover.requestedAt < 30_000; i++) {
        const onNew = async () => (await serverPort(app).catch(() => 0)) === failover.to.port
        const before = await onNew()
        if (before) leftOldMasterAt ??= performance.now()
        during.push(await shoot(app, `/items/after-${i}`, fig))
        await app.cache.drain()
        const again = await shoot(app, `/items/after-${i}`, fig)
        during.push(again)
        if (before && again.xCache === 'HIT' && (await onNew())) resumedAt = performance.now()
        else await sleep(50)
      }
      expectOk(fig, during, 'during the failover')
      const resumeMs = (resumedAt ?? Number.NaN) - failover.requestedAt
      const onDemotedMs = (leftOldMasterAt ?? Number.NaN) - failover.switchedAt
      fig.set('sentinel switched after (ms)', failover.switchedAt - failover.requestedAt)
      fig.set('client on the demoted master after the switch (ms)', Math.max(0, onDemotedMs))
      fig.set('SENTINEL FAILOVER to first HIT on the new master (ms)', resumeMs)

      expect(fig.details).toEqual([])
      expect(resumedAt).toBeDefined()
      expect(resumeMs).toBeLessThan(RESUME_BOUND_MS)
    },
  )

  scenario(
    {
      id: 'sentinel-frozen',
      area: 'server',
      title: 'First sentinel frozen at boot',
      did: 'sentinels [a server that accepts connections and never answers, the real sentinel]; the app boots, then 2 requests to one key',
      criterion: `the client is ready when the app is (the silent sentinel is given up on at commandTimeoutMs ${FAST.commandTimeoutMs} ms); boot < 1000 ms; the second request is a HIT`,
      timeoutMs: 300_000,
      skip,
    },
    async (ctx) => {
      const { fig } = ctx
      const { sentinels, name } = await useGroup(ctx)
      const sockets = new Set<net.Socket>()
      const silent = net.createServer((socket) => void sockets.add(socket))
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      ctx.defer(async () => {
        for (const socket of sockets) socket.destroy()
        await new Promise((resolve) => silent.close(resolve))
      })
      const frozen = { host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port }
      let app: FastifyInstance | undefined
      const namespace = namespaceFor(ctx, () => app, 'sentinel-frozen')
      const origin = new Origin(fig, 5)
      const started = performance.now()
      app = await buildApp(ctx, {
        keydb: { sentinels: [frozen, ...sentinels], name, commandTimeoutMs: FAST.commandTimeoutMs },
        cache: { keyPrefix: namespace },
        routes: (a) => origin.route(a),
        waitForBus: false,
      })
      const bootMs = performance.now() - started
      const status = app.keydb.status
      const first = await shoot(app, '/items/1', fig)
      await app.cache.drain()
      const second = await shoot(app, '/items/1', fig)
      expectOk(fig, [first, second], 'after boot')
      fig.set('boot (ms)', bootMs)
      fig.set('client status at ready()', status)
      fig.set('second request', second.xCache ?? 'none')

      expect(fig.details).toEqual([])
      expect(status).toBe('ready')
      expect(bootMs).toBeLessThan(1_000)
      expect(second.xCache).toBe('HIT')
    },
  )
})
