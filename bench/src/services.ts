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
