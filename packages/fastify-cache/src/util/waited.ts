import type { EventLoopUtilization } from 'node:perf_hooks'

/**
 * Event-loop utilization over a span from which its time is taken to be this process's own: the
 * loop had almost no idle time in which to read a reply or a message.
 */
const BUSY_LOOP = 0.9

/**
 * The part of the time since `since` (performance.now()) this process spent waiting on others: all
 * of it, unless it was busy for most of it (`loopAtSince`: the event loop's utilization then). Then a
 * reply or message mostly waited on our own loop (a burst of requests), not on KeyDB, and only the
 * loop's idle share counts. So a burst does not make a healthy KeyDB look slow (the circuit would
 * open) or spend the requests' store budgets (fills would skip the lock, and every instance would
 * run the origin).
 */
export function waitedMs(since: number, loopAtSince?: EventLoopUtilization): number {
  const ms = performance.now() - since
  // Below a millisecond the loop cannot have held a reply for long: not worth the measurement.
  if (loopAtSince === undefined || ms < 1) return ms
  const { utilization } = performance.eventLoopUtilization(loopAtSince)
  return utilization >= BUSY_LOOP ? ms * (1 - utilization) : ms
}
