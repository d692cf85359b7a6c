import { spawnSync } from 'node:child_process'
import type { Cluster } from 'ioredis'
import { Redis } from 'ioredis'
import { redisServerBinary } from './redis-process.js'
import { clusterNodes, redisUrl } from './resolve.js'

/** What a test is talking to, so expected values follow the server instead of assuming Redis. */
export type ServerKind = 'keydb' | 'redis'

/**
 * KeyDB answers `INFO keydb` with a `# KeyDB` section, Redis with nothing. This is deliberately not
 * fastify-keydb's detection (which reads `INFO server` markers): tests of that detection need an
 * expected value found another way.
 */
export async function serverKind(client: Redis | Cluster): Promise<ServerKind> {
  const target = client.isCluster ? (client as Cluster).nodes('master')[0] : (client as Redis)
  if (!target) throw new Error('serverKind: the cluster client knows no master yet')
  const section = await target.info('keydb')
  return /^#\s*keydb\s*$/im.test(section) ? 'keydb' : 'redis'
}

const byAddress = new Map<string, Promise<ServerKind>>()

/** {@link serverKind} of the server at `url` (a short-lived connection; memoised per process). */
export function serverKindAt(url: string): Promise<ServerKind> {
  let kind = byAddress.get(url)
  if (!kind) {
    kind = (async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
      client.on('error', () => {})
      try {
        await client.connect()
        return await serverKind(client)
      } finally {
        client.disconnect()
      }
    })()
    byAddress.set(url, kind)
  }
  return kind
}

/** Kind of the shared standalone server ({@link redisUrl}). */
export async function sharedServerKind(): Promise<ServerKind> {
  return serverKindAt(await redisUrl())
}

/** Kind of the shared cluster's servers (`KEYDB_CLUSTER_NODES`), or undefined without a cluster. */
export async function clusterServerKind(): Promise<ServerKind | undefined> {
  const seed = clusterNodes()?.[0]
  return seed ? serverKindAt(`redis://${seed.host}:${seed.port}`) : undefined
}

const byBinary = new Map<string, ServerKind>()

/**
 * Kind of a server binary, by default the one throwaway servers run (`--version` prints
 * "KeyDB server v=..." or "Redis server v=..."), for choosing arguments before starting it.
 */
export function binaryKind(binary = redisServerBinary()): ServerKind {
  let kind = byBinary.get(binary)
  if (!kind) {
    const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? ''
    kind = /keydb/i.test(version) ? 'keydb' : 'redis'
    byBinary.set(binary, kind)
  }
  return kind
}
