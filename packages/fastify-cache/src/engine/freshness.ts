import { type CacheEntry, noHeaders, type StoredHeaders, type VaryMarker } from './entry.js'
import type { HitTier } from './events.js'
import type { CachePolicy } from './policy.js'

/** How long the store keeps an entry: the longest window that can still serve it. */
export function storeTtlMs(entry: Pick<CacheEntry, 'freshMs' | 'staleMs' | 'graceMs'>): number {
  return Math.ceil(entry.freshMs + Math.max(entry.staleMs, entry.graceMs))
}

export type Freshness = 'fresh' | 'stale' | 'grace' | 'expired'

/**
 * Where an entry stands given its age (ms since fill): fresh, servable while revalidating (stale),
 * servable only if the origin fails (grace), or expired.
 */
export function freshnessOf(entry: CacheEntry, ageMs: number): Freshness {
  if (ageMs < entry.freshMs) return 'fresh'
  const past = ageMs - entry.freshMs
  if (past < entry.staleMs) return 'stale'
  if (past < entry.graceMs) return 'grace'
  return 'expired'
}

/** An entry found by a lookup, with where it stands. */
export interface Lookup {
  entry: CacheEntry
  freshness: Freshness
  ageMs: number
  tier: HitTier
}

/** What a store lookup can find: an entry, or the vary marker of a route key. */
export type Found = Lookup | { vary: VaryMarker }

/** What a store read found, if another fill's result may be served from it (fresh, or a vary marker). */
export function fillResult(found: Found | undefined | null): Found | undefined {
  return found && ('vary' in found || found.freshness === 'fresh') ? found : undefined
}

/** Whether a copy may be served because the origin failed (inside its stale-if-error window). */
export function servableOnError(copy: Lookup | undefined): copy is Lookup {
  return copy !== undefined && copy.ageMs - copy.entry.freshMs < copy.entry.graceMs
}

/** Windows of one entry that override the policy's (from the response's cache-control, say), ms. */
export interface EntryWindows {
  freshMs?: number | undefined
  staleMs?: number | undefined
  graceMs?: number | undefined
}

/** What a response or a value becomes once stored (before its tags are sealed). */
export interface EntryInit {
  status: number
  contentType: string
  etag: string
  body: Buffer
  negative: boolean
  headers?: StoredHeaders | undefined
  loadMs?: number | undefined
  windows?: EntryWindows | undefined
}

/**
 * The entry to store for `init` under `policy` (windows from the policy unless `init.windows` says
 * otherwise, fresh time with jitter), or `undefined` when its body is larger than `maxValueBytes`.
 */
export function buildEntry(policy: CachePolicy, init: EntryInit): CacheEntry | undefined {
  if (init.body.length > policy.maxValueBytes) return undefined
  const { windows, headers, loadMs, ...rest } = init
  const baseTtl = windows?.freshMs ?? (init.negative ? (policy.negativeTtlMs as number) : policy.ttlMs)
  const freshMs = policy.jitter > 0 ? baseTtl + Math.floor(Math.random() * policy.jitter * baseTtl) : baseTtl
  return {
    ...rest,
    headers: headers ?? noHeaders(),
    loadMs: loadMs ?? 0,
    tags: '',
    freshMs,
    staleMs: init.negative ? 0 : (windows?.staleMs ?? policy.staleWhileRevalidateMs),
    graceMs: init.negative ? 0 : (windows?.graceMs ?? policy.staleIfErrorMs),
  }
}
