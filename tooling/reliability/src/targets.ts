import type { FastifyKeydbOptions } from '@fastkey/fastify-keydb'
import { cleanupPrefix, clusterNodes } from '@fastkey/test-services'
import { Cluster, type Redis } from 'ioredis'
import { adminClient, failFastClient, sharedRedisNamespace } from './apps.js'
import type { ScenarioContext } from './scenario.js'

export type TargetKind = 'standalone' | 'cluster'

/** Where a scenario runs: the shared KeyDB (or Redis) on `KEYDB_URL`, or the shared cluster. */
export interface Target {
  kind: TargetKind
  /** fastify-keydb options reaching it. */
  keydb: FastifyKeydbOptions
  /** A namespace of this scenario's own, removed at the end. */
  namespace: string
  /** An admin connection (raw keys, SCAN), closed at the end. */
  admin: Redis | Cluster
}

/** Why the cluster variants cannot run, or undefined when `KEYDB_CLUSTER_NODES` names a cluster. */
export const CLUSTER_SKIP = clusterNodes()
  ? undefined
  : 'KEYDB_CLUSTER_NODES is not set (CI sets it; locally `bash .ci/cluster.sh start` and export what it prints)'

/** The scenario's target: a namespace of its own on the shared server or on the shared cluster. */
export async function sharedTarget(ctx: ScenarioContext, kind: TargetKind, label: string): Promise<Target> {
  if (kind === 'standalone') {
    const { url, namespace } = await sharedRedisNamespace(ctx, label)
    return { kind, keydb: { url }, namespace, admin: await adminClient(ctx, url) }
  }
  const nodes = clusterNodes()
  if (!nodes) throw new Error(CLUSTER_SKIP)
  const namespace = `rel-${label}-${Math.random().toString(16).slice(2, 12)}`
  const admin = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 }, lazyConnect: true })
  admin.on('error', () => {})
  await admin.connect()
  ctx.defer(async () => {
    try {
      await cleanupPrefix(admin, namespace)
    } finally {
      admin.disconnect()
    }
  })
  return { kind, keydb: { cluster: { nodes } }, namespace, admin }
}

/**
 * A command connection of its own to the target (what one app instance would have), fail-fast like
 * fastify-keydb's; closed at the end.
 */
export async function targetClient(ctx: ScenarioContext, target: Target): Promise<Redis | Cluster> {
  if (target.kind === 'standalone') return failFastClient(ctx, (target.keydb as { url: string }).url)
  const client = new Cluster(clusterNodes()!, {
    enableOfflineQueue: false,
    redisOptions: { maxRetriesPerRequest: 1 },
    lazyConnect: true,
  })
  client.on('error', () => {})
  await client.connect()
  ctx.defer(() => client.disconnect())
  return client
}

/** Keys under `<namespace>:<kind>:` on every master (SCAN), e.g. kind `g` for generations. */
export async function countKeys(admin: Redis | Cluster, pattern: string): Promise<number> {
  const nodes = (admin as Cluster).isCluster ? (admin as Cluster).nodes('master') : [admin as Redis]
  let count = 0
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      count += keys.length
    } while (cursor !== '0')
  }
  return count
}
