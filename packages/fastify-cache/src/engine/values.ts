import type { CacheEntry } from './entry.js'
import type { Signals } from './events.js'
import type { Failures } from './failures.js'
import { buildEntry } from './freshness.js'
import type { CachePolicy } from './policy.js'
import type { FillTicket } from './ticket.js'

/**
 * The entry a service value becomes: `null`/`undefined` are "not found" (stored only with
 * `negativeTtlMs`), anything else goes through the policy's serializer. `undefined` when it cannot
 * be stored (a serializer error is reported and counted as a skip; too large is counted too).
 */
export function entryFromValue(
  key: string,
  value: unknown,
  policy: CachePolicy,
  report: { failures: Failures; signals: Signals },
  ticket?: FillTicket,
): CacheEntry | undefined {
  const negative = value === undefined || value === null
  if (negative && policy.negativeTtlMs === false) return undefined
  let body: Buffer
  try {
    body = value === undefined ? Buffer.alloc(0) : policy.serializer.serialize(value)
  } catch (error) {
    report.failures.report('serialize', error, key)
    report.signals.skip(key, 'serialize', ticket?.route)
    return undefined
  }
  const init = { status: negative ? 404 : 200, contentType: '', etag: '', body, negative }
  if (ticket) return ticket.entryOf(init)
  const entry = buildEntry(policy, init)
  if (!entry) report.signals.skip(key, 'too-large', undefined, body.length)
  return entry
}

/** The value a service entry stands for (a negative entry: `undefined`, or `null` if it was one). */
export function valueOfEntry(entry: CacheEntry, policy: CachePolicy): unknown {
  if (entry.negative) return entry.body.length === 0 ? undefined : null
  return policy.serializer.deserialize(entry.body)
}
