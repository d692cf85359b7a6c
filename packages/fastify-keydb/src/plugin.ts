import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Cluster, Redis } from 'ioredis'
import { CapabilityTracker } from './capabilities.js'
import { closeConnection } from './close.js'
import { watchCommandDeadlines } from './command-deadline.js'
import { createClient, describeAddress, waitForReady } from './connect.js'
import { errors } from './errors.js'
import { augmentClient } from './extensions.js'
import { pingHealth } from './health.js'
import { ConnectionMonitor } from './monitor.js'
import { type ResolvedKeydbOptions, resolveOptions } from './options.js'
import { registryOf } from './registry.js'
import { ReplyLimit } from './reply-limit.js'
import { readDatabaseCount, SelectGuard, type SelectRefusal } from './select-guard.js'
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
  limit: ReplyLimit
  guard: SelectGuard | undefined
}): () => Promise<void> {
  let closing: Promise<void> | undefined
  const run = async () => {
    parts.tracker.stop()
    parts.limit.stop()
    await Promise.all([parts.subscriber.close(), parts.owned ? closeConnection(parts.client) : undefined])
    // A client we closed keeps its listeners (a late 'error' must not reach stderr); a client that
    // stays open with its owner gets back to how it was handed to us.
    if (!parts.owned) {
      parts.monitor.stop()
      parts.guard?.stop()
    }
  }
  return () => {
    closing ??= run()
    return closing
  }
}

/** The option a refused database index came from, for the registration error. */
function databaseOption(options: ResolvedKeydbOptions): string {
  return options.source.kind === 'standalone' ? options.source.dbOption : 'client'
}

/** The registration error of a database index the server refused at boot, with its `databases` if readable. */
async function refusedAtBoot(
  client: Redis,
  refusal: SelectRefusal,
  options: ResolvedKeydbOptions,
): Promise<Error> {
  const count = await readDatabaseCount(client, options.commandTimeoutMs)
  const has =
    count === undefined
      ? 'its `databases` setting could not be read'
      : `it has ${count} database${count === 1 ? '' : 's'} (0 to ${count - 1})`
  return new errors.FST_KEYDB_INVALID_OPTION(
    databaseOption(options),
    `the server refused database ${refusal.db} (${refusal.reason}); ${has}`,
    { cause: refusal.error },
  )
}

/** Registration in progress: a refused SELECT then ends the wait for ready and fails registration. */
interface BootState {
  done: boolean
  refusal: SelectRefusal | undefined
  readonly abort: AbortController
}

/** The SELECT guard of a standalone client (a cluster has only database 0 and never sends SELECT). */
function guardDatabase(
  client: Redis | Cluster,
  boot: BootState,
  afterBoot: (refusal: SelectRefusal) => void,
): SelectGuard | undefined {
  if (client.isCluster) return undefined
  return new SelectGuard(client as Redis, (refusal) => {
    if (boot.done) return afterBoot(refusal)
    boot.refusal ??= refusal
    boot.abort.abort()
  })
}

/** What the subscriber connection gets before it connects: the same reply bound and SELECT guard. */
function prepareSubscriber(
  limit: ReplyLimit,
  address: string,
  log: FastifyInstance['log'],
): (connection: Redis | Cluster) => void {
  return (connection) => {
    limit.watch(connection, `subscriber of ${address}`)
    if (connection.isCluster) return
    // Pub/sub ignores the database, but a refused SELECT must not become an unhandled rejection.
    new SelectGuard(connection as Redis, (refusal) =>
      log.debug(`KeyDB subscriber: SELECT ${refusal.db} refused (${refusal.reason})`),
    )
  }
}

async function fastifyKeydbPlugin(fastify: FastifyInstance, opts: FastifyKeydbOptions): Promise<void> {
  const options = resolveOptions(opts)
  const registry = registryOf(fastify)
  registry.reserve(options.namespace)
  const client = createClient(options.source)
  // Only connections this plugin creates (and their copies): an injected client keeps its own ways.
  if (options.source.kind !== 'client') watchCommandDeadlines(client)
  const owned = ownsClient(options)
  const address = describeAddress(client)
  // Installed before the first socket connects: both watch every connect from the first one on.
  const limit = new ReplyLimit(options.maxReplyBytes, fastify.log)
  limit.watch(client, address)
  const boot: BootState = { done: false, refusal: undefined, abort: new AbortController() }
  let monitor: ConnectionMonitor | undefined
  const guard = guardDatabase(client, boot, (refusal) =>
    monitor?.selectRefused(new errors.FST_KEYDB_SELECT_REFUSED(address, refusal.db, refusal.reason)),
  )
  monitor = new ConnectionMonitor(client, fastify.log, address, () => guard?.refusal !== undefined)
  const tracker = new CapabilityTracker(client, options.commandTimeoutMs)
  const subscriber = new SubscriberSlot(client, fastify.log, prepareSubscriber(limit, address, fastify.log))
  const close = teardown({ client, owned, tracker, monitor, subscriber, limit, guard })
  let keydb: KeydbClient | undefined
  try {
    registry.assertNoClash(options.namespace, client)
    keydb = augmentClient(client, {
      health: (healthOptions) =>
        pingHealth(client, () => tracker.server, options.commandTimeoutMs, healthOptions),
      subscriber: () => subscriber.get() as Redis,
      capabilities: () => tracker.current,
    })
    const ready = await waitForReady(client, options.connectTimeoutMs, boot.abort.signal)
    boot.done = true
    if (boot.refusal) throw await refusedAtBoot(client as Redis, boot.refusal, options)
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
