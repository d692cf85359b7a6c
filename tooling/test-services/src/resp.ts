import { Cluster, type ClusterNode, Redis } from 'ioredis'
import { requestedIoredisMajor } from './ioredis-major.js'

export type RespVersion = 2 | 3

/** The RESP versions the loaded ioredis speaks: 2 and 3 on ioredis 6, 2 only on ioredis 5. */
export function respVersions(): RespVersion[] {
  return requestedIoredisMajor() === 6 ? [2, 3] : [2]
}

/** The RESP version the server says a connection speaks (`HELLO` without arguments, Redis 6.2+). */
export async function serverProtocol(client: Redis): Promise<number> {
  const reply = (await client.call('HELLO')) as unknown[]
  return Number(reply[reply.indexOf('proto') + 1])
}

/**
 * A connected client speaking `protocol`, as ioredis would give a user who passed it (ioredis 5 has no
 * such option and speaks RESP2). Throws when the server answers in another version, so a test meant
 * for RESP3 cannot silently run over RESP2. The caller closes it.
 */
export async function respClient(url: string, protocol: RespVersion): Promise<Redis> {
  const client = new Redis(url, { protocol, lazyConnect: true })
  await client.connect()
  const spoken = await serverProtocol(client)
  if (spoken !== protocol) {
    client.disconnect()
    throw new Error(`asked for RESP${protocol}, the connection speaks RESP${spoken}`)
  }
  return client
}

/** A connected cluster client whose node connections speak `protocol` (checked on each master). */
export async function respCluster(nodes: ClusterNode[], protocol: RespVersion): Promise<Cluster> {
  const cluster = new Cluster(nodes, { lazyConnect: true, redisOptions: { protocol } })
  await cluster.connect()
  for (const node of cluster.nodes('master')) {
    const spoken = await serverProtocol(node)
    if (spoken !== protocol) {
      cluster.disconnect()
      throw new Error(`asked for RESP${protocol}, a cluster node speaks RESP${spoken}`)
    }
  }
  return cluster
}
