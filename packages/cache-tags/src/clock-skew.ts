import { readTopology, type Topology } from '@fastkey/fastify-cache/extension'
import type { Cluster, Redis } from 'ioredis'

/**
 * The margin route fills allow between server clocks when nobody set `clockSkewMs` and the versions
 * may be written by more than one server's clock over time (replicas that can take over, KeyDB active
 * replicas, Sentinel), or before the topology is known.
 */
export const REPLICATED_CLOCK_SKEW_MS = 100
/** How often the topology is asked again (a replica attached later makes a failover possible). */
export const TOPOLOGY_RECHECK_MS = 30_000

/**
 * Derives the default clock margin from the servers the versions live on, and keeps it current: 0 on
 * masters without replicas (a version and the `TIME` it is compared with come from the same server's
 * clock, so the comparison is exact), REPLICATED_CLOCK_SKEW_MS otherwise. Asked at start, on every bus
 * reconnect (a failover reconnects) and every TOPOLOGY_RECHECK_MS.
 */
export class ClockSkewWatch {
  readonly #client: Redis | Cluster
  readonly #timeoutMs: number
  readonly #apply: (clockSkewMs: number) => void
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #closed = false
  topology: Topology | undefined

  constructor(client: Redis | Cluster, timeoutMs: number, apply: (clockSkewMs: number) => void) {
    this.#client = client
    this.#timeoutMs = timeoutMs
    this.#apply = apply
  }

  /** Starts watching; resolves once the first answer (or its failure) is applied. Never rejects. */
  start(): Promise<void> {
    this.#timer = setInterval(() => void this.detect(), TOPOLOGY_RECHECK_MS).unref()
    return this.detect()
  }

  /** Asks the servers again (one question at a time). Never rejects. */
  detect(): Promise<void> {
    this.#running ??= readTopology(this.#client, this.#timeoutMs).then((topology) => {
      this.#running = undefined
      if (this.#closed) return
      this.topology = topology
      this.#apply(topology === 'single-master' ? 0 : REPLICATED_CLOCK_SKEW_MS)
    })
    return this.#running
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#timer)
  }
}
