import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import postgres from 'postgres'
import { BENCH_DIR } from './proc.js'

export const REDIS_URL = process.env.KEYDB_URL ?? 'redis://127.0.0.1:6379'
/** A database the bench may connect to in order to create (and drop) its own. */
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Creates `bench_<id>`; returns its URL and a drop function. */
export async function createDatabase(id: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bench_${id}`
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} })
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await sql.end()
      }
    },
  }
}

/** SCAN + UNLINK of every key containing `token` (all keys of one run carry it). Never FLUSHALL. */
export async function cleanupRedis(token: string): Promise<number> {
  const client = new Redis(REDIS_URL)
  let removed = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `*${token}*`, 'COUNT', 5_000)
      cursor = next
      if (keys.length > 0) removed += await client.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
  return removed
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '').trim()
  }
}

function versionOf(pkg: string): string {
  try {
    // Direct dependencies are linked in bench/node_modules (some export maps hide package.json).
    const path = join(BENCH_DIR, 'node_modules', pkg, 'package.json')
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
  } catch {
    return '?'
  }
}

export interface MachineInfo {
  cpu: string
  cores: number
  memoryGiB: number
  kernel: string
  node: string
  redis: string
  postgres: string
  loader: string
  packages: Record<string, string>
}

export async function machineInfo(loader: string): Promise<MachineInfo> {
  const client = new Redis(REDIS_URL, { lazyConnect: true })
  let redis = '?'
  try {
    await client.connect()
    const info = await client.info('server')
    redis = /redis_version:(\S+)/.exec(info)?.[1] ?? '?'
  } catch {
    // Reported as '?'.
  } finally {
    client.disconnect()
  }
  let pg = '?'
  try {
    const sql = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} })
    const [row] = await sql`SHOW server_version`
    pg = String(row?.server_version ?? '?')
    await sql.end()
  } catch {
    // Reported as '?'.
  }
  const packages: Record<string, string> = {}
  for (const name of [
    'fastify',
    'ioredis',
    'async-cache-dedupe',
    'bentocache',
    'cache-manager',
    '@keyv/redis',
    'keyv',
    'autocannon',
  ])
    packages[name] = versionOf(name)
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: tryRun('uname', ['-sr']),
    node: process.version,
    redis,
    postgres: pg,
    loader,
    packages,
  }
}

/** user + system seconds of a Redis/KeyDB server from `INFO cpu`, as µs. */
async function infoCpuMicros(client: Redis): Promise<number> {
  const info = await client.info('cpu')
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1])
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1])
  return (sys + user) * 1e6
}

/**
 * Reads a KeyDB (or Redis) server's own CPU time, µs so far, for each of `urls` summed: from
 * /proc/<pid>/stat of the server (its pid from `INFO server`) when it runs on this machine, else from
 * `INFO cpu` (used_cpu_user + used_cpu_sys). Resolves a reader and a close function.
 */
export async function keydbCpuReader(
  urls: string[],
): Promise<{ read(): Promise<number>; how: string; close(): void }> {
  const clients = urls.map((url) => new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }))
  await Promise.all(clients.map((c) => c.connect()))
  const pids: number[] = []
  for (const client of clients) {
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1])
    try {
      // The same pid namespace: the stat file is the server's (checked by its name).
      if (/\((redis|keydb)-server\)/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) pids.push(pid)
    } catch {
      // Another namespace or machine: INFO cpu below.
    }
  }
  if (pids.length === clients.length) {
    for (const c of clients) c.disconnect()
    const { cpuMicros } = await import('./proc.js')
    return {
      read: async () => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0),
      how: `/proc/<pid>/stat of the server process${pids.length > 1 ? 'es' : ''} (pid ${pids.join(', ')})`,
      close() {},
    }
  }
  return {
    read: async () => (await Promise.all(clients.map(infoCpuMicros))).reduce((a, b) => a + b, 0),
    how: 'INFO cpu (used_cpu_user + used_cpu_sys)',
    close: () => {
      for (const c of clients) c.disconnect()
    },
  }
}

/** SCAN + UNLINK of the keys carrying `token` on every master of a cluster (`host:port,…`). */
export async function cleanupCluster(nodes: string, token: string): Promise<number> {
  let removed = 0
  for (const node of nodes.split(',')) {
    const client = new Redis(`redis://${node}`)
    try {
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `*${token}*`, 'COUNT', 5_000)
        cursor = next
        // One key per UNLINK: a cluster node refuses a multi-key command across slots.
        for (const key of keys) removed += await client.unlink(key)
      } while (cursor !== '0')
    } finally {
      client.disconnect()
    }
  }
  return removed
}

/**
 * The 3-master cluster of the cluster modes: `KEYDB_CLUSTER_NODES`, else the one this clone's
 * `.ci/cluster.sh` runs, else one it starts (and `stop` stops). Undefined when none can run.
 */
export function clusterNodes(log: (line: string) => void): { nodes: string; stop(): void } | undefined {
  const script = join(BENCH_DIR, '..', '.ci', 'cluster.sh')
  const parse = (out: string) => /KEYDB_CLUSTER_NODES=(\S+)/.exec(out)?.[1]
  if (process.env.KEYDB_CLUSTER_NODES) return { nodes: process.env.KEYDB_CLUSTER_NODES, stop() {} }
  const status = parse(tryRun('bash', [script, 'status']))
  if (status) return { nodes: status, stop() {} }
  try {
    const nodes = parse(
      execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    )
    if (!nodes) return undefined
    log(`  started a 3-master cluster for the cluster mode: ${nodes}`)
    return { nodes, stop: () => void tryRun('bash', [script, 'stop']) }
  } catch (error) {
    log(`  no cluster: ${(error as Error).message.split('\n')[0]}`)
    return undefined
  }
}
