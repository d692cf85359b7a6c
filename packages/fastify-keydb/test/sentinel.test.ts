import net from 'node:net'
import {
  cleanupPrefix,
  failOver,
  lockSentinelGroup,
  sentinelGroup,
  sentinelMaster,
  uniquePrefix,
  warnSentinelSkipped,
} from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'
import { detectCapabilities, type KeydbClient } from '../src/index.js'
import { appWith, eventually, measured } from './helpers.js'

const group = sentinelGroup()
if (!group) warnSentinelSkipped('@fastkey/fastify-keydb sentinel')

/**
 * From SENTINEL FAILOVER to the first write the client makes on the new master. ~1.3 s measured here
 * (the sentinel's promotion takes most of it). Without following `+switch-master` the client stayed on
 * the demoted master ~11 s, until the sentinel reconfigured it and dropped its clients.
 */
const FAILOVER_BOUND_MS = 5_000
/** Each command while the master changes must fail fast: the command deadline plus scheduling slack. */
const COMMAND_BOUND_MS = 500 + 300

/** The port of the server this client is talking to, from its own INFO. */
async function serverPort(client: Redis | KeydbClient): Promise<number> {
  return Number(/^tcp_port:(\d+)/m.exec(await client.info('server'))?.[1])
}

/** A TCP server that accepts connections and never answers: a frozen sentinel. */
async function silentServer(): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => void sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as net.AddressInfo).port
}

describe.skipIf(!group)('Redis Sentinel', () => {
  const { sentinels, name } = group ?? { sentinels: [], name: '' }
  let release = () => {}
  // Only the lock: failOver() itself waits until the group has settled after an earlier failover.
  beforeAll(async () => {
    release = await lockSentinelGroup(group!)
  }, 240_000)
  afterAll(() => release())

  test('connects through the sentinel to the master it names, with the fail-fast defaults', async () => {
    const { app } = await appWith({ sentinels, name })
    const master = await sentinelMaster(group!)
    const prefix = uniquePrefix('sentinel')
    onTestFinished(() => cleanupPrefix(app.keydb, prefix).then(() => undefined))
    expect(app.keydb.status).toBe('ready')
    expect(await serverPort(app.keydb)).toBe(master.port)
    await app.keydb.set(`${prefix}k`, 'v', 'PX', 60_000)
    expect(await app.keydb.get(`${prefix}k`)).toBe('v')
    const direct = new Redis({ ...master, lazyConnect: true })
    onTestFinished(() => direct.disconnect())
    await direct.connect()
    const expected = await detectCapabilities(direct)
    expect(app.keydb.capabilities).toMatchObject({ server: expected.server, mode: 'standalone', ready: true })
    expect(await app.keydb.health()).toMatchObject({ ok: true, server: expected.server })
    expect(app.keydb.options).toMatchObject({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      failoverDetector: true,
      sentinelCommandTimeout: 500,
    })
  })

  test('app.close() leaves no connection open, not even the failover detector ones to the sentinels', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((type) => type === 'TCPSocketWrap').length
    const baseline = sockets()
    const { app } = await appWith({ sentinels, name })
    await app.keydb.subscriber().subscribe(uniquePrefix('sentinel-close'))
    // At least the client and its failover detector's subscription to the sentinel.
    expect(await eventually(() => sockets() >= baseline + 2, 2_000), 'sockets open').toBe(true)
    await app.close()
    // `<=`: a socket of the previous test's app may still be closing when the baseline is taken.
    expect(await eventually(() => sockets() <= baseline, 2_000), `${sockets() - baseline} left`).toBe(true)
  })

  test('a frozen sentinel first in the list is given up on at the command deadline; the next one answers', async () => {
    const frozen = await silentServer()
    const started = performance.now()
    const { app, warnings } = await appWith({
      sentinels: [{ host: '127.0.0.1', port: frozen }, ...sentinels],
      name,
      commandTimeoutMs: 300,
    })
    const tookMs = performance.now() - started
    measured('sentinel: ready past a frozen sentinel', tookMs)
    expect(app.keydb.status).toBe('ready')
    expect(warnings()).toEqual([])
    // One command deadline on the frozen sentinel, then the real one; well inside connectTimeoutMs.
    expect(tookMs).toBeLessThan(300 + 700)
  })

  // The timeout covers waiting for the group to settle after another file's failover (~20 s).
  test('fails over: commands fail fast meanwhile, then the client and its subscriber follow the new master, no restart', {
    timeout: 120_000,
  }, async () => {
    const { app, warnings } = await appWith({ sentinels, name })
    const prefix = uniquePrefix('sentinel-failover')
    onTestFinished(() => cleanupPrefix(app.keydb, prefix).then(() => undefined))
    const subscriber = app.keydb.subscriber()
    const channel = `${prefix}bus`
    const heard: string[] = []
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === channel) heard.push(message)
    })
    await subscriber.subscribe(channel)

    const failover = await failOver(group!)
    let slowestMs = 0
    let attempts = 0
    let movedAt: number | undefined
    while (movedAt === undefined && performance.now() - failover.requestedAt < 30_000) {
      const t0 = performance.now()
      try {
        attempts++
        await app.keydb.set(`${prefix}k`, String(attempts), 'PX', 60_000)
        if ((await serverPort(app.keydb)) === failover.to.port) movedAt = performance.now()
      } catch {
        // Refused while the master changes: what matters is that it was quick.
      }
      slowestMs = Math.max(slowestMs, performance.now() - t0)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const tookMs = (movedAt ?? Number.NaN) - failover.requestedAt
    console.info(
      `[sentinel] fastify-keydb: SENTINEL FAILOVER to the first write on the new master: ${Math.round(tookMs)} ms ` +
        `(sentinel switched after ${Math.round(failover.switchedAt - failover.requestedAt)} ms; ` +
        `${attempts} attempts, slowest ${Math.round(slowestMs)} ms)`,
    )
    expect(movedAt).toBeDefined()
    expect(tookMs).toBeLessThan(FAILOVER_BOUND_MS)
    expect(slowestMs).toBeLessThan(COMMAND_BOUND_MS)

    // The subscriber followed too: a message published on the new master reaches it.
    const heardOnNewMaster = await eventually(async () => {
      await app.keydb.publish(channel, 'after').catch(() => 0)
      return heard.includes('after')
    }, 10_000)
    expect(heardOnNewMaster).toBe(true)
    expect(await app.keydb.health()).toMatchObject({ ok: true })
    // An outage warning and its "ready again" are expected; nothing at error level.
    expect(warnings().filter((line) => line.level >= 50)).toEqual([])
  })
})
