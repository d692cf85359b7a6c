import { setPollAwareTimeout } from '@fastkey/support'
import type { Cluster, Redis } from 'ioredis'

/** The parts of an ioredis `Command` (public in ioredis 5 and 6) a deadline needs. */
interface DeadlineCommand {
  promise: Promise<unknown>
  reject(error: Error): void
  setTimeout(ms: number): void
}

type SendCommand = (command: DeadlineCommand, ...rest: unknown[]) => unknown

/** ioredis' own message: callers (and fastify-cache) already know it. */
const TIMED_OUT = 'Command timed out'
const ARMED = Symbol('fastkey.commandDeadline')
const WATCHED = Symbol('fastkey.commandDeadlineWatched')
const skip = () => {}

/**
 * Runs ioredis' `commandTimeout` so that it decides after the poll phase that follows its timer.
 *
 * ioredis arms a plain timer per command. After a long turn of this process's event loop (a burst of
 * requests, a big synchronous serialization) the timers phase runs before the poll phase reads the
 * sockets, so a reply that arrived in time was rejected as "Command timed out": a healthy KeyDB looked
 * failed (1,200 ms of synchronous work failed every command on the wire). Same deadline, same error,
 * taken from the connection's options at send time; only the verdict waits for the socket to be read.
 *
 * Installed on the instance (its `sendCommand`, and `duplicate()` so that copies get it too), never on
 * ioredis' prototypes: connections the application creates itself keep ioredis' behaviour.
 */
export function watchCommandDeadlines(client: Redis | Cluster): void {
  const target = client as unknown as Record<PropertyKey, unknown>
  if (target[WATCHED]) return
  target[WATCHED] = true
  const send = client.sendCommand as unknown as SendCommand
  const deadlineOf = (): unknown =>
    client.isCluster
      ? (client as Cluster).options.redisOptions?.commandTimeout
      : (client as Redis).options.commandTimeout
  target.sendCommand = function (this: unknown, command: DeadlineCommand, ...rest: unknown[]) {
    const ms = deadlineOf()
    if (typeof ms === 'number' && ms > 0) arm(command, ms)
    return send.call(this, command, ...rest)
  }
  const duplicate = client.duplicate as unknown as (...args: unknown[]) => Redis | Cluster
  target.duplicate = function (this: unknown, ...args: unknown[]) {
    const copy = duplicate.apply(this, args)
    watchCommandDeadlines(copy)
    return copy
  }
}

function arm(command: DeadlineCommand, ms: number): void {
  const marked = command as unknown as Record<PropertyKey, unknown>
  // A cluster sends a command again after MOVED/ASK or a reconnect: one deadline for its whole life.
  if (marked[ARMED]) return
  marked[ARMED] = true
  // ioredis' own timer for this command (it calls setTimeout(commandTimeout) as it sends it).
  command.setTimeout = skip
  let settled = false
  const timer = setPollAwareTimeout(() => {
    if (!settled) command.reject(new Error(TIMED_OUT))
  }, ms)
  const done = () => {
    settled = true
    clearTimeout(timer)
  }
  command.promise.then(done, done)
}
