import { readServerInfo, type ServerInfo } from '@fastkey/support'
import type { Cluster, Redis } from 'ioredis'
import { DEFAULT_COMMAND_TIMEOUT_MS } from './defaults.js'
import type { KeydbCapabilities, KeydbServer } from './types.js'

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
