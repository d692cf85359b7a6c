import { performance } from 'node:perf_hooks'
import type { Cluster, Redis } from 'ioredis'
import { errorMessage, withDeadline } from './deadline.js'
import type { KeydbHealth, KeydbHealthOptions, KeydbServer } from './types.js'

const MAX_TIMER_MS = 2_147_483_647

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
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMER_MS) {
    return { ok: false, latencyMs: 0, server: server(), error: `invalid timeoutMs: ${String(timeoutMs)}` }
  }
  try {
    // ping() can throw synchronously on a closed client in some ioredis paths; keep it inside try.
    await withDeadline(
      Promise.resolve().then(() => client.ping()),
      timeoutMs,
      'PING',
    )
    return { ok: true, latencyMs: elapsedMs(start), server: server() }
  } catch (err) {
    return { ok: false, latencyMs: elapsedMs(start), server: server(), error: errorMessage(err) }
  }
}
