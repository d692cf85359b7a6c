import { errorMessage } from '@fastkey/support'
import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { closeConnection } from './close.js'
import type { ConstructorRedisOptions } from './connect.js'
import { SUBSCRIBER_OVERRIDES } from './defaults.js'
import { errors } from './errors.js'

function duplicateForPubSub(client: Redis | Cluster): Redis | Cluster {
  if (!client.isCluster) return (client as Redis).duplicate(SUBSCRIBER_OVERRIDES)
  const cluster = client as Cluster
  const { enableOfflineQueue, ...nodeOverrides } = SUBSCRIBER_OVERRIDES
  return cluster.duplicate([], {
    enableOfflineQueue,
    redisOptions: { ...cluster.options.redisOptions, ...nodeOverrides } as ConstructorRedisOptions,
  })
}

/** The lazily created pub/sub connection of one registration. */
export class SubscriberSlot {
  readonly #client: Redis | Cluster
  readonly #log: FastifyBaseLogger
  readonly #prepare: (subscriber: Redis | Cluster) => void
  #subscriber: Redis | Cluster | undefined
  #closed = false

  /** `prepare` runs on the new connection before it connects (the same guards as the client's). */
  constructor(
    client: Redis | Cluster,
    log: FastifyBaseLogger,
    prepare: (subscriber: Redis | Cluster) => void,
  ) {
    this.#client = client
    this.#log = log
    this.#prepare = prepare
  }

  get(): Redis | Cluster {
    if (this.#closed) throw new errors.FST_KEYDB_CLOSED('subscriber()')
    if (this.#subscriber) return this.#subscriber
    const subscriber = duplicateForPubSub(this.#client)
    this.#prepare(subscriber)
    // Outages are logged once by the main connection's monitor; this listener keeps ioredis from
    // printing every failed reconnect attempt of the subscriber to stderr.
    subscriber.on('error', (err: Error) => this.#log.debug(`KeyDB subscriber: ${errorMessage(err)}`))
    this.#subscriber = subscriber
    return subscriber
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#subscriber) await closeConnection(this.#subscriber)
  }
}
