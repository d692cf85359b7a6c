import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Cluster, Redis } from 'ioredis'
import { CapabilityTracker } from './capabilities.js'
import { closeConnection } from './close.js'
import { createClient, describeAddress, waitForReady } from './connect.js'
import { errors } from './errors.js'
import { augmentClient } from './extensions.js'
import { pingHealth } from './health.js'
import { ConnectionMonitor } from './monitor.js'
import { type ResolvedKeydbOptions, resolveOptions } from './options.js'
import { registryOf } from './registry.js'
import { SubscriberSlot } from './subscriber.js'
import type { FastifyKeydbOptions, KeydbClient } from './types.js'

/** Whether this registration closes the client: it created it, or it was handed it with `closeClient`. */
function ownsClient(options: ResolvedKeydbOptions): boolean {
  return options.source.kind !== 'client' || options.source.closeClient
}

/** Everything one registration set up, torn down once (later calls get the same promise). */
function teardown(parts: {
  client: Redis | Cluster
  owned: boolean
  tracker: CapabilityTracker
  monitor: ConnectionMonitor
  subscriber: SubscriberSlot
}): () => Promise<void> {
  let closing: Promise<void> | undefined
  const run = async () => {
    parts.tracker.stop()
    await Promise.all([parts.subscriber.close(), parts.owned ? closeConnection(parts.client) : undefined])
    // A client we closed keeps its listeners (a late 'error' must not reach stderr); a client that
    // stays open with its owner gets back to how it was handed to us.
    if (!parts.owned) parts.monitor.stop()
  }
  return () => {
    closing ??= run()
    return closing
  }
}

async function fastifyKeydbPlugin(fastify: FastifyInstance, opts: FastifyKeydbOptions): Promise<void> {
  const options = resolveOptions(opts)
  const registry = registryOf(fastify)
  registry.reserve(options.namespace)
  const client = createClient(options.source)
  const owned = ownsClient(options)
  const address = describeAddress(client)
  const monitor = new ConnectionMonitor(client, fastify.log, address)
  const tracker = new CapabilityTracker(client, options.commandTimeoutMs)
  const subscriber = new SubscriberSlot(client, fastify.log)
  const close = teardown({ client, owned, tracker, monitor, subscriber })
  let keydb: KeydbClient | undefined
  try {
    registry.assertNoClash(options.namespace, client)
    keydb = augmentClient(client, {
      health: (healthOptions) =>
        pingHealth(client, () => tracker.server, options.commandTimeoutMs, healthOptions),
      subscriber: () => subscriber.get() as Redis,
      capabilities: () => tracker.current,
    })
    const ready = await waitForReady(client, options.connectTimeoutMs)
    // Listening from here on: the first 'ready' (if any) has passed and is read just below.
    tracker.start()
    if (ready.ok) {
      await tracker.refresh()
    } else if (options.requireOnBoot) {
      throw new errors.FST_KEYDB_CONNECT_FAILED(address, options.connectTimeoutMs, ready.reason, {
        cause: ready.cause,
      })
    } else {
      fastify.log.warn(
        `KeyDB at ${address} is not ready after ${options.connectTimeoutMs} ms (${ready.reason}); ` +
          'starting without it: commands fail fast until the client, reconnecting in the background, gets through',
      )
    }
    monitor.activate(!ready.ok)
  } catch (err) {
    registry.release(options.namespace)
    await close()
    throw err
  }
  registry.attach(options.namespace, keydb)
  fastify.addHook('onClose', async () => {
    if (!owned) registry.detachNamespaces(keydb)
    await close()
  })
}

/**
 * Fastify 5 plugin owning KeyDB/Redis (ioredis) connections: `fastify.keydb` (and named connections
 * `fastify.keydb.<namespace>`) with fail-fast defaults, `health()`, `capabilities` and `subscriber()`.
 */
export const fastifyKeydb = fp(fastifyKeydbPlugin, { fastify: '5.x', name: '@fastkey/fastify-keydb' })
export default fastifyKeydb
