import { withNamedDeadline } from './deadline.js'

/** Which server answers: detected from `INFO`, never from the version string. */
export type ServerKind = 'keydb' | 'redis' | 'unknown'

export interface ServerInfo {
  server: ServerKind
  version: string | null
}

/**
 * What `INFO` needs of a client: an ioredis `Redis`, or a `Cluster` (INFO goes to one master). Typed
 * by shape, so this package needs no ioredis.
 */
export interface InfoClient {
  readonly isCluster?: boolean
  info(section: string): Promise<string>
  nodes?(role: 'master' | 'all'): InfoClient[]
  /** ioredis options: `sentinels` is set on a client that finds its master through Sentinel. */
  readonly options?: object
}

/** `INFO` text → `{ field: value }` (section headers and blank lines skipped). */
function infoFields(info: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of info.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  return fields
}

/** An `# KeyDB` section: KeyDB answers `INFO keydb` with one, Redis with nothing. */
function hasKeydbSection(info: string): boolean {
  return /^#\s*keydb\s*$/im.test(info) || /^mvcc_depth:/m.test(info)
}

/**
 * Reads the server kind and version from `INFO server` text. KeyDB is recognised by what only it
 * prints (`features:...cluster_mget...`, `availability_zone:`, a KeyDB section), never by
 * `redis_version`: KeyDB reports its own version there and `version-override` can set it to anything.
 */
export function parseServerInfo(info: string): ServerInfo {
  const fields = infoFields(info)
  const version = fields.get('redis_version') ?? null
  const features = fields.get('features')?.split(/[\s,]+/) ?? []
  if (features.includes('cluster_mget') || fields.has('availability_zone') || hasKeydbSection(info)) {
    return { server: 'keydb', version }
  }
  return { server: version === null ? 'unknown' : 'redis', version }
}

/** The connection INFO should go to: the client itself, or one master of a cluster. */
function infoTarget(client: InfoClient): InfoClient | undefined {
  if (!client.isCluster || !client.nodes) return client
  return client.nodes('master')[0] ?? client.nodes('all')[0]
}

/**
 * Asks the server what it is. Never throws: a failure (disconnected, INFO renamed away, deadline)
 * gives `server: 'unknown'`.
 */
export async function readServerInfo(client: InfoClient, timeoutMs: number): Promise<ServerInfo> {
  const target = infoTarget(client)
  if (!target) return { server: 'unknown', version: null }
  try {
    const parsed = parseServerInfo(await withNamedDeadline(target.info('server'), timeoutMs, 'INFO server'))
    if (parsed.server !== 'redis') return parsed
    // Older KeyDB builds may lack the INFO server markers; its own section is the last word.
    const keydb = await withNamedDeadline(target.info('keydb'), timeoutMs, 'INFO keydb').catch(() => '')
    return hasKeydbSection(keydb) ? { ...parsed, server: 'keydb' } : parsed
  } catch {
    return { server: 'unknown', version: null }
  }
}

/** A server's place in replication, from `INFO replication`. */
export interface ReplicationInfo {
  /** `master`, `replica` (Redis/KeyDB `slave`), KeyDB's `active-replica` (a master replicating another), or `unknown`. */
  role: 'master' | 'replica' | 'active-replica' | 'unknown'
  /** `connected_slaves`: replicas attached to it now (0 when the field is missing). */
  replicas: number
}

/** Reads the role and attached replicas from `INFO replication` text (Redis 6.2+, KeyDB 6.3). */
export function parseReplicationInfo(info: string): ReplicationInfo {
  const fields = infoFields(info)
  const role = fields.get('role')
  const replicas = Number(fields.get('connected_slaves') ?? 0)
  return {
    role:
      role === 'master'
        ? 'master'
        : role === 'slave' || role === 'replica'
          ? 'replica'
          : role === 'active-replica'
            ? 'active-replica'
            : 'unknown',
    replicas: Number.isInteger(replicas) && replicas > 0 ? replicas : 0,
  }
}

/**
 * Whether everything a client writes lands on servers that each keep their own clock for good:
 * `single-master` (one master, or cluster masters, none with a replica that could take over, no
 * Sentinel, no KeyDB active replica), `replicated` (some of it may move to, or be written by, another
 * server), or `unknown` (could not be asked).
 */
export type Topology = 'single-master' | 'replicated' | 'unknown'

/** Classifies the `INFO replication` of every master a client writes to (see `Topology`). */
export function topologyOf(masters: readonly ReplicationInfo[]): Topology {
  if (masters.length === 0) return 'unknown'
  if (masters.some((m) => m.role === 'unknown')) return 'unknown'
  return masters.every((m) => m.role === 'master' && m.replicas === 0) ? 'single-master' : 'replicated'
}

/**
 * Asks every master the client writes to (each master of a cluster) for its replication state. Never
 * throws: a failure (disconnected, INFO renamed away, deadline) gives `unknown`. A client that finds
 * its master through Sentinel is `replicated` without asking: Sentinel exists to fail over.
 */
export async function readTopology(client: InfoClient, timeoutMs: number): Promise<Topology> {
  if ((client.options as { sentinels?: unknown } | undefined)?.sentinels) return 'replicated'
  const masters = client.isCluster && client.nodes ? client.nodes('master') : [client]
  try {
    const infos = await Promise.all(
      masters.map((m) => withNamedDeadline(m.info('replication'), timeoutMs, 'INFO replication')),
    )
    return topologyOf(infos.map(parseReplicationInfo))
  } catch {
    return 'unknown'
  }
}
