import { execFileSync } from 'node:child_process'
import {
  clusterNodes,
  redisUrl,
  requestedIoredisMajor,
  serverProtocol,
  warnClusterSkipped,
} from '@fastkey/test-services'
import type { Cluster, Redis } from 'ioredis'
import { describe, expect, test } from 'vitest'
import { reconnectDelay, TCP_KEEPALIVE_MS } from '../src/defaults.js'
import { fastifyKeydb } from '../src/index.js'
import { appWith, buildApp } from './helpers.js'

// The suite runs on ioredis 5 and on ioredis 6 (FASTKEY_IOREDIS), whose defaults differ for
// retryStrategy, keepAlive and protocol. These expectations are the same for both runs: the options a
// client really ends up with (after ioredis merged its own defaults) and what the server and the
// kernel see, so a major whose default leaks through fails here.

/** The options every command connection the plugin creates must have, whichever major is installed. */
const COMMAND_CONNECTION = {
  connectTimeout: 1_500,
  commandTimeout: 500,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  keepAlive: TCP_KEEPALIVE_MS,
  protocol: 2,
  disableClientInfo: true,
  autoResubscribe: true,
}

/** Seconds until the next TCP keepalive probe of the client's socket, as the kernel reports it (`ss`). */
function keepaliveTimerSeconds(client: Redis): number {
  const port = client.stream.localPort
  const line = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} )`]).toString()
  const timer = /timer:\(keepalive,(\d+)(ms|sec|min)/.exec(line)
  if (!timer) throw new Error(`no keepalive timer on the socket from port ${port}: ${line.trim()}`)
  const scale = { ms: 0.001, sec: 1, min: 60 }[timer[2] as 'ms' | 'sec' | 'min']
  return Number(timer[1]) * scale
}

describe('fail-fast defaults are the same on ioredis 5 and 6', () => {
  test('the main connection: effective options, RESP2 on the wire, keepalive on the socket', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    const client = app.keydb as Redis
    expect(client.options).toMatchObject(COMMAND_CONNECTION)
    // Ours, not ioredis 6's new default (exponential up to 5 s plus up to 199 ms of jitter).
    expect(client.options.retryStrategy).toBe(reconnectDelay)
    expect(await serverProtocol(client)).toBe(2)
    // ioredis 5 would leave the OS default (2 h on Linux), ioredis 6 its own 30 s: both must show ours.
    expect(keepaliveTimerSeconds(client)).toBeLessThanOrEqual(TCP_KEEPALIVE_MS / 1000)
  })

  test('the subscriber connection: queues, no deadline, resubscribes, RESP2, keepalive', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    const subscriber = app.keydb.subscriber()
    expect(subscriber.options).toMatchObject({
      enableOfflineQueue: true,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      keepAlive: TCP_KEEPALIVE_MS,
      protocol: 2,
    })
    expect(subscriber.options.retryStrategy).toBe(reconnectDelay)
    expect(await serverProtocol(subscriber)).toBe(2)
    expect(keepaliveTimerSeconds(subscriber)).toBeLessThanOrEqual(TCP_KEEPALIVE_MS / 1000)
  })

  test('protocol: 3 gives a RESP3 connection on ioredis 6 and a coded error on ioredis 5', async () => {
    const url = await redisUrl()
    if (requestedIoredisMajor() === 5) {
      const { app } = buildApp()
      app.register(fastifyKeydb, { url, protocol: 3 } as never)
      await expect(app.ready()).rejects.toMatchObject({ code: 'FST_KEYDB_INVALID_OPTION' })
      return
    }
    const { app } = await appWith({ url, protocol: 3 })
    expect(await serverProtocol(app.keydb)).toBe(3)
    // What the plugin itself parses keeps working under RESP3 (INFO is a verbatim string there).
    expect(app.keydb.capabilities).toMatchObject({ server: expect.stringMatching(/^(redis|keydb)$/) })
    expect(await app.keydb.health()).toMatchObject({ ok: true })
  })
})

const nodes = clusterNodes()
if (!nodes) warnClusterSkipped('@fastkey/fastify-keydb ioredis defaults (cluster)')

describe.skipIf(!nodes)('fail-fast defaults on a cluster, ioredis 5 and 6', () => {
  test('cluster options and every node connection', async () => {
    const { app } = await appWith({ cluster: { nodes: nodes ?? [] } })
    const cluster = app.keydb as unknown as Cluster
    expect(cluster.options).toMatchObject({ enableOfflineQueue: false })
    expect(cluster.options.clusterRetryStrategy).toBe(reconnectDelay)
    const connections = cluster.nodes('all')
    expect(connections.length).toBeGreaterThan(0)
    for (const node of connections) {
      await node.ping()
      expect(node.options).toMatchObject({
        commandTimeout: 500,
        maxRetriesPerRequest: 0,
        keepAlive: TCP_KEEPALIVE_MS,
        protocol: 2,
      })
      expect(await serverProtocol(node)).toBe(2)
      expect(keepaliveTimerSeconds(node)).toBeLessThanOrEqual(TCP_KEEPALIVE_MS / 1000)
    }
  })
})
