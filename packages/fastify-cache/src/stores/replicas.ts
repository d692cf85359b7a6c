import type { Cluster, Redis } from 'ioredis'

/** How many replicas were attached to the masters a client writes to, and how many confirmed. */
export interface ReplicaAcks {
  attached: number
  acked: number
}

/**
 * Replicas of `INFO replication` in state `online` (`slave0:ip=…,port=…,state=online,…`). One still
 * in its initial sync cannot acknowledge yet and will load a snapshot taken after the write: waiting
 * for it would hold every invalidation (and so the cache of every instance) for the whole sync.
 */
export function onlineReplicas(info: string): number {
  let online = 0
  for (const line of info.split(/\r?\n/))
    if (/^slave\d+:/.test(line) && /(?:^|[:,])state=online(?:,|$)/.test(line)) online++
  return online
}

/**
 * Waits until every replica attached to the masters this client writes to has applied the client's
 * writes so far (`WAIT`, Redis 3.0+ and KeyDB; a KeyDB active replica is attached as a replica of
 * the master it replicates), or `timeoutMs` passed. `WAIT` counts the writes of the connection it is
 * sent on, so it goes to each master's own connection (every master of a cluster). A master with no
 * replica (online) costs one `INFO replication` and no wait.
 */
export async function awaitReplicas(client: Redis | Cluster, timeoutMs: number): Promise<ReplicaAcks> {
  const masters: Redis[] = (client as Cluster).isCluster
    ? (client as Cluster).nodes('master')
    : [client as Redis]
  const counts = await Promise.all(
    masters.map(async (master): Promise<ReplicaAcks> => {
      const replicas = onlineReplicas(await master.info('replication'))
      if (replicas === 0) return { attached: 0, acked: 0 }
      // A replica that attached after INFO was read may be counted too: never more than attached.
      const acked = Math.min(replicas, Number(await master.wait(replicas, timeoutMs)))
      return { attached: replicas, acked }
    }),
  )
  return counts.reduce((sum, c) => ({ attached: sum.attached + c.attached, acked: sum.acked + c.acked }), {
    attached: 0,
    acked: 0,
  })
}
