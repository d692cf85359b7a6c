import { randomBytes } from 'node:crypto'
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

/**
 * The Sentinel setup CI starts with `.ci/sentinel.sh` (a master, a replica and a sentinel on
 * loopback): `KEYDB_SENTINELS` ("host:port,host:port") and `KEYDB_SENTINEL_NAME` (the master name,
 * default "fastkey"). Tests fail its master over, so they take `lockSentinelGroup()` first: vitest runs
 * test files in parallel, and two failovers at once would make both tests wrong.
 */
export interface SentinelGroup {
  sentinels: Array<{ host: string; port: number }>
  name: string
}

export interface Address {
  host: string
  port: number
}

/** The group from the environment, or `undefined` (Sentinel suites then skip, loudly). */
export function sentinelGroup(): SentinelGroup | undefined {
  const raw = process.env.KEYDB_SENTINELS
  if (!raw) return undefined
  const sentinels = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const url = new URL(part.includes('://') ? part : `redis://${part}`)
      return { host: url.hostname, port: Number(url.port || 26379) }
    })
  return { sentinels, name: process.env.KEYDB_SENTINEL_NAME || 'fastkey' }
}

let warnedSentinel = false
/** Logs once per process that Sentinel tests were skipped because no sentinel is configured. */
export function warnSentinelSkipped(suite: string): void {
  if (warnedSentinel) return
  warnedSentinel = true
  console.warn(
    `\n*** ${suite}: KEYDB_SENTINELS is not set, Redis Sentinel tests are SKIPPED. ` +
      'CI starts a master, a replica and a sentinel; locally run `export $(bash .ci/sentinel.sh start)`. ***\n',
  )
}

/** Runs `fn` with a short-lived plain client on `address`. */
async function withClient<T>(address: Address, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ ...address, lazyConnect: true, maxRetriesPerRequest: 0, commandTimeout: 2_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await fn(client)
  } finally {
    client.disconnect()
  }
}

const onSentinel = <T>(group: SentinelGroup, fn: (sentinel: Redis) => Promise<T>) =>
  withClient(group.sentinels[0]!, fn)

/** The master the sentinel names now (SENTINEL GET-MASTER-ADDR-BY-NAME). */
export function sentinelMaster(group: SentinelGroup): Promise<Address> {
  return onSentinel(group, async (sentinel) => {
    const reply = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', group.name)) as
      | [string, string]
      | null
    if (!reply) throw new Error(`the sentinel knows no master named "${group.name}"`)
    return { host: reply[0], port: Number(reply[1]) }
  })
}

/** SENTINEL REPLICAS as objects (the reply is a flat field/value list per replica). */
function replicaTable(reply: unknown): Array<Record<string, string>> {
  return (reply as string[][]).map((fields) => {
    const row: Record<string, string> = {}
    for (let i = 0; i + 1 < fields.length; i += 2) row[fields[i]!] = fields[i + 1]!
    return row
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits until a failover can be asked for: the named master answers ROLE as master and the sentinel
 * sees a replica that is up (flags exactly "slave") with its link to the master up. After a failover
 * the old master takes several seconds to be turned into a replica and resynchronised.
 */
export async function waitForSentinelGroup(group: SentinelGroup, timeoutMs = 60_000): Promise<Address> {
  const deadline = Date.now() + timeoutMs
  let why = 'not checked yet'
  while (Date.now() < deadline) {
    try {
      const master = await sentinelMaster(group)
      const role = await withClient(master, (m) => m.call('ROLE'))
      const replicas = replicaTable(
        await onSentinel(group, (s) => s.call('SENTINEL', 'REPLICAS', group.name)),
      )
      const ready = replicas.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok')
      if ((role as string[])[0] === 'master' && ready.length > 0) return master
      why = `master role ${(role as string[])[0]}, ${ready.length}/${replicas.length} replicas ready`
    } catch (error) {
      why = (error as Error).message
    }
    await sleep(200)
  }
  throw new Error(`the sentinel group "${group.name}" is not ready after ${timeoutMs} ms: ${why}`)
}

export interface Failover {
  from: Address
  to: Address
  /** `performance.now()` when the sentinel accepted SENTINEL FAILOVER. */
  requestedAt: number
  /** `performance.now()` when the sentinel first named the new master. */
  switchedAt: number
}

/**
 * Fails the master over with SENTINEL FAILOVER (no agreement needed) and waits until the sentinel
 * names the new master. Refusals while the group settles after an earlier failover (NOGOODSLAVE,
 * INPROG) are retried until `timeoutMs`.
 */
export async function failOver(group: SentinelGroup, timeoutMs = 60_000): Promise<Failover> {
  const from = await waitForSentinelGroup(group, timeoutMs)
  const deadline = Date.now() + timeoutMs
  return onSentinel(group, async (sentinel) => {
    let requestedAt: number | undefined
    while (requestedAt === undefined) {
      try {
        await sentinel.call('SENTINEL', 'FAILOVER', group.name)
        requestedAt = performance.now()
      } catch (error) {
        if (Date.now() > deadline || !/NOGOODSLAVE|INPROG/.test((error as Error).message)) throw error
        await sleep(200)
      }
    }
    while (Date.now() < deadline) {
      const [host, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', group.name)) as [
        string,
        string,
      ]
      if (Number(port) !== from.port) {
        return { from, to: { host, port: Number(port) }, requestedAt, switchedAt: performance.now() }
      }
      await sleep(10)
    }
    throw new Error(
      `the sentinel still names ${from.host}:${from.port} ${timeoutMs} ms after SENTINEL FAILOVER`,
    )
  })
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the machine-wide lock on this sentinel group (a file in the temp dir, created exclusively)
 * and returns its release. A lock left by a dead process is taken over.
 */
export async function lockSentinelGroup(group: SentinelGroup, timeoutMs = 180_000): Promise<() => void> {
  const { host, port } = group.sentinels[0]!
  const path = join(tmpdir(), `fastkey-sentinel-${host}-${port}.lock`)
  const token = `${process.pid} ${randomBytes(8).toString('hex')}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      writeFileSync(path, token, { flag: 'wx' })
      return () => {
        try {
          if (readFileSync(path, 'utf8') === token) unlinkSync(path)
        } catch {
          // Already gone: nothing to release.
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    let holder: number | undefined
    try {
      holder = Number(readFileSync(path, 'utf8').split(' ')[0])
    } catch {
      continue // released between the two calls
    }
    if (holder && !processAlive(holder)) {
      try {
        unlinkSync(path)
      } catch {
        // Someone else took it over first.
      }
      continue
    }
    if (Date.now() > deadline) throw new Error(`the sentinel lock ${path} is held by pid ${holder}`)
    await sleep(100)
  }
}
