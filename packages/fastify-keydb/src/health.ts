import { performance } from 'node:perf_hooks'
import { durationProblem, errorMessage, withNamedDeadline } from '@fastkey/support'
import type { Cluster, Redis } from 'ioredis'
import type { KeydbHealth, KeydbHealthOptions, KeydbServer } from './types.js'

function elapsedMs(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000
}

/**
 * PING with a deadline. Never throws and never outlives `timeoutMs` (the PING itself may, ioredis has
 * no cancellation, but its late result is ignored). A bad `timeoutMs` is reported as `ok: false`
 * rather than thrown, because callers use this from probes that must not crash.
 */
export async function pingHealth(
  client: Redis | Cluster,
  server: () => KeydbServer,
  defaultTimeoutMs: number,
  options: KeydbHealthOptions = {},
): Promise<KeydbHealth> {
  const start = performance.now()
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
  const problem = durationProblem(timeoutMs)
  if (problem !== undefined) {
    return { ok: false, latencyMs: 0, server: server(), error: `invalid timeoutMs: ${problem}` }
  }
  try {
    // ping() can throw synchronously on a closed client in some ioredis paths; keep it inside try.
    await withNamedDeadline(
      Promise.resolve().then(() => client.ping()),
      timeoutMs,
      'PING',
    )
    return { ok: true, latencyMs: elapsedMs(start), server: server() }
  } catch (err) {
    return { ok: false, latencyMs: elapsedMs(start), server: server(), error: errorMessage(err) }
  }
}
