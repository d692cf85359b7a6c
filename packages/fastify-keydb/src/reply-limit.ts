import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { errors } from './errors.js'
import { RespFramer } from './resp-framer.js'

/** The pub/sub router a Cluster keeps in its private `subscriber` field (ioredis 5 and 6). */
interface ClusterPubSubRouter {
  subscriber?: Redis | null
  selectSubscriber?: (...args: unknown[]) => unknown
}

/** Trips further apart than this start the reconnect backoff over. */
const TRIP_MEMORY_MS = 60_000

/**
 * ioredis resets its reconnect attempt count on every ready socket, so a server that sends a huge
 * reply right after each connect (a subscriber is resubscribed at once) would get a reconnect every
 * 50 ms. Carrying the number of recent trips into that count (a field of ioredis 5 and 6) makes the
 * retry strategy back off instead.
 */
function backOff(connection: Redis, trips: number): void {
  const state = connection as unknown as { retryAttempts?: unknown }
  if (typeof state.retryAttempts === 'number') state.retryAttempts = Math.max(state.retryAttempts, trips - 1)
}

function nodeLabel(node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`
}

/**
 * Bounds what a server can make ioredis buffer: every socket of the watched connections is followed
 * by a `RespFramer`, and one whose reply grows past `maxReplyBytes` before it is complete (or
 * announces more) is destroyed. ioredis then fails the commands waiting on it and reconnects.
 * Logged once per connection at error level (`FST_KEYDB_REPLY_TOO_LARGE`), later trips at debug.
 */
export class ReplyLimit {
  readonly #limit: number
  readonly #log: FastifyBaseLogger
  readonly #stops: Array<() => void> = []
  readonly #reported = new Set<string>()

  constructor(limit: number, log: FastifyBaseLogger) {
    this.#limit = limit
    this.#log = log
  }

  /**
   * Watches a client: a `Redis`, or each node of a `Cluster` (present and future) and its pub/sub
   * connection. A socket is followed from its connect on: a client already connected when it is
   * handed over is followed from its next (re)connect.
   */
  watch(client: Redis | Cluster, label: string): void {
    if (this.#limit === Number.POSITIVE_INFINITY) return
    if (client.isCluster) this.#watchCluster(client as Cluster, label)
    else this.#watchConnection(client as Redis, label)
  }

  /** Stops watching future sockets (the current ones are closed with the client). */
  stop(): void {
    for (const stop of this.#stops.splice(0)) stop()
  }

  #watchConnection(connection: Redis, label: string): () => void {
    let trips = 0
    let lastTrip = Number.NEGATIVE_INFINITY
    const onConnect = () => {
      const stream = connection.stream
      const framer = new RespFramer(this.#limit)
      const onData = (chunk: Buffer) => {
        const problem = framer.push(chunk)
        if (problem === undefined) return
        stream.off('data', onData)
        const now = performance.now()
        trips = now - lastTrip > TRIP_MEMORY_MS ? 1 : trips + 1
        lastTrip = now
        backOff(connection, trips)
        stream.destroy()
        this.#report(new errors.FST_KEYDB_REPLY_TOO_LARGE(label, problem, this.#limit), label)
      }
      stream.on('data', onData)
    }
    connection.on('connect', onConnect)
    const stop = () => connection.off('connect', onConnect)
    this.#stops.push(stop)
    return stop
  }

  #watchCluster(cluster: Cluster, label: string): void {
    // Weak: the router replaces its pub/sub connection on every topology change.
    const watched = new WeakMap<Redis, () => void>()
    const watchNode = (node: Redis, what: string) => {
      if (!watched.has(node))
        watched.set(node, this.#watchConnection(node, `${what} ${nodeLabel(node)} (${label})`))
    }
    const onNode = (node: Redis) => watchNode(node, 'cluster node')
    const onNodeGone = (node: Redis) => {
      watched.get(node)?.()
      watched.delete(node)
    }
    for (const node of cluster.nodes('all')) onNode(node)
    cluster.on('+node', onNode)
    cluster.on('-node', onNodeGone)
    const unhookPubSub = this.#watchClusterPubSub(cluster, (node) =>
      watchNode(node, 'cluster pub/sub connection'),
    )
    this.#stops.push(() => {
      cluster.off('+node', onNode)
      cluster.off('-node', onNodeGone)
      unhookPubSub()
    })
  }

  /**
   * The cluster's pub/sub connection is created by its private router, outside the node pool (no
   * '+node' event): the router's `selectSubscriber`, which creates it, is wrapped on the instance.
   * Skipped if the router does not have that shape (another ioredis version).
   */
  #watchClusterPubSub(cluster: Cluster, watch: (node: Redis) => void): () => void {
    const router = (cluster as unknown as { subscriber?: ClusterPubSubRouter }).subscriber
    const select = router?.selectSubscriber
    if (!router || typeof router !== 'object' || typeof select !== 'function') return () => {}
    if (router.subscriber) watch(router.subscriber)
    router.selectSubscriber = function (this: ClusterPubSubRouter, ...args: unknown[]) {
      const result = select.apply(this, args)
      if (router.subscriber) watch(router.subscriber)
      return result
    }
    return () => {
      delete router.selectSubscriber
    }
  }

  #report(error: Error, label: string): void {
    if (this.#reported.has(label)) {
      this.#log.debug({ err: error }, error.message)
      return
    }
    this.#reported.add(label)
    this.#log.error({ err: error }, error.message)
  }
}
