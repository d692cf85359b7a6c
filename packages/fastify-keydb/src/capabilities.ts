import type { Cluster, Redis } from 'ioredis'
import { withDeadline } from './deadline.js'
import { DEFAULT_COMMAND_TIMEOUT_MS } from './defaults.js'
import type { KeydbCapabilities, KeydbServer } from './types.js'

export interface ServerInfo {
  server: KeydbServer
  version: string | null
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
function infoTarget(client: Redis | Cluster): Redis | undefined {
  if (!client.isCluster) return client as Redis
  const cluster = client as Cluster
  return cluster.nodes('master')[0] ?? cluster.nodes('all')[0]
}

/**
 * Asks the server what it is. Never throws: a failure (disconnected, INFO renamed away, deadline)
 * gives `server: 'unknown'`.
 */
export async function readServerInfo(client: Redis | Cluster, timeoutMs: number): Promise<ServerInfo> {
  const target = infoTarget(client)
  if (!target) return { server: 'unknown', version: null }
  try {
    const parsed = parseServerInfo(await withDeadline(target.info('server'), timeoutMs, 'INFO server'))
    if (parsed.server !== 'redis') return parsed
    // Older KeyDB builds may lack the INFO server markers; its own section is the last word.
    const keydb = await withDeadline(target.info('keydb'), timeoutMs, 'INFO keydb').catch(() => '')
    return hasKeydbSection(keydb) ? { ...parsed, server: 'keydb' } : parsed
  } catch {
    return { server: 'unknown', version: null }
  }
}

export function toCapabilities(client: Redis | Cluster, info: ServerInfo): KeydbCapabilities {
  return Object.freeze({
    server: info.server,
    version: info.version,
    mode: client.isCluster ? 'cluster' : 'standalone',
    ready: client.status === 'ready',
  })
}

/**
 * Detects the capabilities of any ioredis client, with or without the plugin (for a cache engine
 * handed a bare client). Never throws.
 */
export async function detectCapabilities(
  client: Redis | Cluster,
  options: { timeoutMs?: number } = {},
): Promise<KeydbCapabilities> {
  const info = await readServerInfo(client, options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS)
  return toCapabilities(client, info)
}

/**
 * Keeps a client's capabilities current: re-read on every `ready` (a reconnect may land on another
 * server after a failover or an upgrade). A result that arrives after a newer refresh started is
 * dropped.
 */
export class CapabilityTracker {
  readonly #client: Redis | Cluster
  readonly #timeoutMs: number
  #info: ServerInfo = { server: 'unknown', version: null }
  #generation = 0
  readonly #onReady = () => {
    void this.refresh()
  }

  constructor(client: Redis | Cluster, timeoutMs: number) {
    this.#client = client
    this.#timeoutMs = timeoutMs
  }

  get current(): KeydbCapabilities {
    return toCapabilities(this.#client, this.#info)
  }

  get server(): KeydbServer {
    return this.#info.server
  }

  start(): void {
    this.#client.on('ready', this.#onReady)
  }

  stop(): void {
    this.#client.off('ready', this.#onReady)
    this.#generation++
  }

  async refresh(): Promise<void> {
    const generation = ++this.#generation
    const info = await readServerInfo(this.#client, this.#timeoutMs)
    // Keep the last known answer when a refresh fails: the server has not changed kind.
    if (generation === this.#generation && info.server !== 'unknown') this.#info = info
  }
}
