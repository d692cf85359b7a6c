import { execFile, spawnSync } from 'node:child_process'
import net from 'node:net'
import { promisify } from 'node:util'
import { type RedisProcess, startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { sleep } from './load.js'

const run = promisify(execFile)

/** Why cluster scenarios cannot run here, or undefined when `redis-cli` is available. */
export function clusterUnavailable(): string | undefined {
  const probe = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' })
  return probe.status === 0 ? undefined : 'redis-cli not found on PATH (needed to create a throwaway cluster)'
}

/**
 * A throwaway 3-master Redis Cluster of our own (never the shared CI cluster, which other suites use
 * concurrently): redis-server processes on free loopback ports, joined with `redis-cli --cluster create`.
 * `cluster-node-timeout` is 1 s so a killed master is declared failed quickly.
 */
export interface ThrowawayCluster {
  readonly nodes: Array<{ host: string; port: number }>
  readonly servers: readonly RedisProcess[]
  /** Resolves once every running node reports `cluster_state:ok` with all 16384 slots. */
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

async function nodeOk(admin: Redis): Promise<boolean> {
  try {
    const info = await admin.cluster('INFO')
    return (
      info.includes('cluster_state:ok') &&
      info.includes('cluster_slots_assigned:16384') &&
      info.includes('cluster_known_nodes:3')
    )
  } catch {
    return false
  }
}

export async function startCluster(): Promise<ThrowawayCluster> {
  const taken = new Set<number>()
  const servers: RedisProcess[] = []
  const admins = new Map<number, Redis>()
  const stop = async () => {
    for (const admin of admins.values()) admin.disconnect()
    await Promise.all(servers.map((s) => s.stop()))
  }
  try {
    for (let i = 0; i < 3; i++) {
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
    const seeds = servers.map((s) => `127.0.0.1:${s.port}`)
    await run('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '0', '--cluster-yes'])
  } catch (error) {
    await stop()
    throw error
  }
  const cluster: ThrowawayCluster = {
    nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
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
        const oks = await Promise.all(servers.map((s, i) => (s.running ? nodeOk(cluster.admin(i)) : false)))
        if (oks.every(Boolean)) return true
        await sleep(100)
      }
      return false
    },
    stop,
  }
  if (!(await cluster.waitOk())) {
    await stop()
    throw new Error('throwaway cluster did not reach cluster_state:ok')
  }
  return cluster
}
