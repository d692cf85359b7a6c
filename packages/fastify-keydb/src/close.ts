import type { Cluster, Redis } from 'ioredis'
import { withDeadline } from './deadline.js'
import { END_DEADLINE_MS, QUIT_DEADLINE_MS } from './defaults.js'

// A function, not an inline test: the status changes across the awaits below, TS narrowing does not know.
function isEnded(client: Redis | Cluster): boolean {
  return client.status === 'end'
}

function ended(client: Redis | Cluster, ms: number): Promise<void> {
  if (client.status === 'end') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      client.off('end', done)
      resolve()
    }
    // Bounded: a client dropped while it had no socket (between reconnect attempts) may not emit 'end'.
    const timer = setTimeout(done, ms)
    client.once('end', done)
  })
}

/**
 * Closes a connection the plugin owns, within about QUIT_DEADLINE_MS + END_DEADLINE_MS whatever the
 * server's state: QUIT first so the server finishes pending replies; when it cannot answer (dead,
 * frozen, or the client is between reconnects) the socket is dropped. Safe to call twice.
 */
export async function closeConnection(client: Redis | Cluster): Promise<void> {
  if (isEnded(client)) return
  if (client.status === 'ready') {
    try {
      await withDeadline(client.quit(), QUIT_DEADLINE_MS, 'QUIT')
    } catch {
      // The server could not confirm; dropping the socket below is all that is left to do.
    }
  }
  if (isEnded(client)) return
  const end = ended(client, END_DEADLINE_MS)
  client.disconnect()
  await end
}
