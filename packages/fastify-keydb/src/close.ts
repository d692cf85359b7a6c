import { withNamedDeadline } from '@fastkey/support'
import type { Cluster, Redis } from 'ioredis'
import { END_DEADLINE_MS, QUIT_DEADLINE_MS } from './defaults.js'

// A function, not an inline test: the status changes across the awaits below, TS narrowing does not know.
function isEnded(client: Redis | Cluster): boolean {
  return client.status === 'end'
}

function ended(client: Redis | Cluster, ms: number): Promise<void> {
  if (isEnded(client)) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      client.off('end', done)
      resolve()
    }
    // Bounded: 'end' is a courtesy (sockets really closed when close() resolves), never a reason to hang.
    const timer = setTimeout(done, ms)
    client.once('end', done)
  })
}

/** Every socket behind the client: itself, or each cluster node plus the cluster's pub/sub connection. */
function connectionsOf(client: Redis | Cluster): Redis[] {
  if (!client.isCluster) return [client as Redis]
  const cluster = client as Cluster
  // The pub/sub router is private in ioredis; reaching it is the only way to drop its socket too.
  const router = (cluster as unknown as { subscriber?: { getInstance?: () => Redis | undefined } }).subscriber
  const pubsub = typeof router?.getInstance === 'function' ? router.getInstance() : undefined
  return pubsub ? [...cluster.nodes('all'), pubsub] : cluster.nodes('all')
}

/**
 * Closes a connection the plugin owns, within about QUIT_DEADLINE_MS + END_DEADLINE_MS whatever the
 * server's state. QUIT first, so the server finishes pending replies. When it cannot answer (dead,
 * frozen, or the client is between reconnects) the sockets are dropped: `disconnect()` alone only
 * half-closes them, and a frozen server never completes the close, leaving the client "ready" on a
 * socket nobody will ever answer. Safe to call twice.
 */
export async function closeConnection(client: Redis | Cluster): Promise<void> {
  await closeSockets(client)
  releaseSentinels(client)
}

/**
 * QUIT ends the client without telling its connector. Through Sentinel that connector holds the
 * failover detector's subscriptions to every sentinel: they stayed open after close, reconnecting on
 * their own and keeping the process alive. `disconnect()` on the ended client releases them.
 */
function releaseSentinels(client: Redis | Cluster): void {
  if (!client.isCluster && (client as Redis).options.sentinels?.length) client.disconnect()
}

async function closeSockets(client: Redis | Cluster): Promise<void> {
  if (isEnded(client)) return
  if (client.status === 'ready') {
    try {
      await withNamedDeadline(client.quit(), QUIT_DEADLINE_MS, 'QUIT')
      await ended(client, END_DEADLINE_MS)
    } catch {
      // No confirmation from the server: the sockets are dropped below.
    }
  }
  if (isEnded(client)) return
  // Between reconnect attempts there is no socket: disconnect() only cancels the pending attempt and
  // ioredis emits no 'end' (the status stays 'reconnecting'), so there is nothing to wait for.
  const hasSocket = client.status !== 'reconnecting'
  const sockets = connectionsOf(client)
  const end = hasSocket ? ended(client, END_DEADLINE_MS) : Promise.resolve()
  client.disconnect()
  for (const connection of sockets) connection.stream?.destroy()
  await end
}
