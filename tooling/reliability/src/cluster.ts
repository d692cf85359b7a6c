import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { type RedisProcess, redisServerBinary, startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { sleep } from './load.js'

/**
 * Why cluster scenarios cannot run here, or undefined when they can. The cluster is formed with
 * plain CLUSTER commands over ioredis, so only the server binary is needed (no CLI).
 */
export function clusterUnavailable(): string | undefined {
  const binary = redisServerBinary()
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore' })
  return probe.status === 0
    ? undefined
    : `${binary} does not run (set REDIS_SERVER_BIN or put redis-server on PATH)`
}

/**
 * A throwaway 3-master Redis Cluster of our own (never the shared CI cluster, which other suites use
 * concurrently): redis-server (or `REDIS_SERVER_BIN`, e.g. keydb-server) processes on free loopback
 * ports, joined with CLUSTER ADDSLOTS, SET-CONFIG-EPOCH and MEET (commands Redis 6.2+ and KeyDB 6.3
 * share; no CLI needed).
 * `cluster-node-timeout` is 1 s so a killed master is declared failed quickly.
 */
export interface ThrowawayCluster {
  readonly nodes: Array<{ host: string; port: number }>
  readonly servers: readonly RedisProcess[]
  /**
   * True once every node runs, reports `cluster_state:ok` with all 16384 slots and 3 known nodes,
   * and all nodes agree on which master serves which slots; false after `timeoutMs`.
   */
  waitOk(timeoutMs?: number): Promise<boolean>
  /** One admin connection per node (CONFIG RESETSTAT, INFO, SCRIPT EXISTS), opened lazily. */
  admin(index: number): Redis
  stop(): Promise<void>
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000)
    if (taken.has(port) || taken.has(port + 10_000)) continue
    if ((await portFree(port)) && (await portFree(port + 10_000))) {
      taken.add(port)
      return port
    }
  }
  throw new Error('no free port pair for a cluster node')
}

const NODES = 3
const SLOTS = 16_384

/**
 * One node's view of the slot map as comparable text ("ip:port ranges" per master, sorted), or
 * undefined when the node is not ok yet: cluster_state not ok, slots missing, a node unknown, or a
 * node still in handshake, failing or without an address.
 */
async function slotMapIfOk(admin: Redis): Promise<string | undefined> {
  try {
    const info = await admin.cluster('INFO')
    const ok =
      info.includes('cluster_state:ok') &&
      info.includes(`cluster_slots_assigned:${SLOTS}`) &&
      info.includes(`cluster_known_nodes:${NODES}`)
    if (!ok) return undefined
    const masters: string[] = []
    const nodes = (await admin.call('CLUSTER', 'NODES')) as string
    for (const line of nodes.trim().split('\n')) {
      // <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
      const [, address = '', flags = '', , , , , , ...slots] = line.split(' ')
      if (/handshake|fail|noaddr/.test(flags)) return undefined
      if (flags.includes('master')) masters.push(`${address.replace(/@.*/, '')} ${slots.join(' ')}`)
    }
    return masters.sort().join('\n')
  } catch {
    return undefined
  }
}

/**
 * Gives node i of N the slots [i*16384/N, (i+1)*16384/N - 1] and its own config epoch (so no epoch
 * collision has to be resolved, as `redis-cli --cluster create` does), then makes the others meet
 * the first node. Gossip does the rest; waitOk() checks the outcome.
 */
async function formCluster(admins: Redis[], ports: number[]): Promise<void> {
  for (const [i, admin] of admins.entries()) {
    const first = Math.floor((i * SLOTS) / admins.length)
    const last = Math.floor(((i + 1) * SLOTS) / admins.length) - 1
    const slots = Array.from({ length: last - first + 1 }, (_, k) => first + k)
    await admin.cluster('ADDSLOTS', ...slots)
    await admin.call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1)
  }
  for (const admin of admins.slice(1)) await admin.cluster('MEET', '127.0.0.1', ports[0]!)
}

export async function startCluster(): Promise<ThrowawayCluster> {
  const taken = new Set<number>()
  const servers: RedisProcess[] = []
  const admins = new Map<number, Redis>()
  const stop = async () => {
    for (const admin of admins.values()) admin.disconnect()
    await Promise.all(servers.map((s) => s.stop()))
  }
  const cluster: ThrowawayCluster = {
    get nodes() {
      return servers.map((s) => ({ host: '127.0.0.1', port: s.port }))
    },
    servers,
    admin(index) {
      let admin = admins.get(index)
      if (!admin) {
        admin = new Redis(servers[index]!.port, '127.0.0.1', {
          commandTimeout: 1_000,
          maxRetriesPerRequest: 1,
          retryStrategy: () => 100,
        })
        admin.on('error', () => {})
        admins.set(index, admin)
      }
      return admin
    },
    async waitOk(timeoutMs = 15_000) {
      const deadline = performance.now() + timeoutMs
      while (performance.now() < deadline) {
        const maps = await Promise.all(
          servers.map((s, i) => (s.running ? slotMapIfOk(cluster.admin(i)) : undefined)),
        )
        // Every node must agree on who serves which slots, or clients get redirected in circles.
        if (maps.every((map) => map !== undefined && map === maps[0])) return true
        await sleep(100)
      }
      return false
    },
    stop,
  }
  try {
    for (let i = 0; i < NODES; i++) {
      const port = await clusterPort(taken)
      servers.push(
        await startRedisServer({
          port,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '1000',
          ],
        }),
      )
    }
    await formCluster(
      servers.map((_, i) => cluster.admin(i)),
      servers.map((s) => s.port),
    )
  } catch (error) {
    await stop()
    throw error
  }
  if (!(await cluster.waitOk())) {
    await stop()
    throw new Error('throwaway cluster did not reach cluster_state:ok with one slot map on every node')
  }
  return cluster
}
