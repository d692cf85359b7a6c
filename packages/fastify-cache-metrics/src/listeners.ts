import type { Cache } from '@fastkey/fastify-cache'
import { isStoreTimeout } from '@fastkey/fastify-cache/extension'
import type { Histogram } from 'prom-client'
import type { CacheMetricSet } from './metrics.js'
import type { Cell } from './tally.js'

/** `route` of events that no route caused (service calls) when there is no `keyGroup`. */
export const SERVICE_ROUTE = 'service'

/** The `tier` label of a store hit: the store's kind (`keydb`, `memory`) when it is a plain word. */
export function storeTier(cache: Cache): string {
  const kind = cache.store.kind
  return typeof kind === 'string' && /^[a-z][a-z0-9_-]{0,31}$/.test(kind) ? kind : 'store'
}

/** Resolves the `route` label: the pattern of the route, else the service group of the key. */
function routeLabeller(keyGroup: ((key: string) => string) | undefined) {
  if (keyGroup === undefined) return (route: string | undefined) => route ?? SERVICE_ROUTE
  return (route: string | undefined, key: string | undefined) => {
    if (route !== undefined) return route
    if (key === undefined) return SERVICE_ROUTE
    try {
      const group = keyGroup(key)
      return typeof group === 'string' && group !== '' ? group : SERVICE_ROUTE
    } catch {
      // A faulty mapper must not lose the count: it lands in the default group.
      return SERVICE_ROUTE
    }
  }
}

/** Label objects of a histogram, one per (route, second label) pair, allocated once. */
function labelObjects(second: string) {
  const byRoute = new Map<string, Map<string, Record<string, string>>>()
  return (route: string, value: string) => {
    let inner = byRoute.get(route)
    if (inner === undefined) {
      inner = new Map()
      byRoute.set(route, inner)
    }
    let labels = inner.get(value)
    if (labels === undefined) {
      labels = Object.freeze({ route, [second]: value })
      inner.set(value, labels)
    }
    return labels
  }
}

/** Cells per (first label value, route). */
function byFirst(make: (first: string) => (route: string) => Cell) {
  const families = new Map<string, (route: string) => Cell>()
  return (first: string, route: string) => {
    let family = families.get(first)
    if (family === undefined) {
      family = make(first)
      families.set(first, family)
    }
    return family(route)
  }
}

function observe(histogram: Histogram, labels: Record<string, string>, durationMs: number): void {
  histogram.observe(labels, durationMs / 1000)
}

/** Subscribes the metrics to the engine's events; returns the function that unsubscribes them all. */
export function subscribe(
  cache: Cache,
  metrics: CacheMetricSet,
  keyGroup: ((key: string) => string) | undefined,
): () => void {
  const label = routeLabeller(keyGroup)
  const tier = storeTier(cache)
  const hitL1 = metrics.hits.family('route', { tier: 'l1' })
  const hitStore = metrics.hits.family('route', { tier })
  const miss = metrics.misses.family('route')
  const stale = byFirst((reason) => metrics.stale.family('route', { reason }))
  const bypass = byFirst((reason) => metrics.bypasses.family('route', { reason }))
  const skip = byFirst((reason) => metrics.skips.family('route', { reason }))
  const stored = metrics.storedBytes.family('route')
  const storeError = metrics.storeErrors.family('operation')
  const storeTimeout = metrics.storeTimeouts.family('operation')
  const transition = metrics.circuitTransitions.family('state')
  const invalidation = metrics.invalidations.family('mode')
  const lockLabels = labelObjects('outcome')
  const loadLabels = labelObjects('result')
  const events = cache.events

  const offs = [
    events.on('hit', (e) => {
      ;(e.tier === 'l1' ? hitL1 : hitStore)(label(e.route, e.key)).n++
    }),
    events.on('miss', (e) => {
      miss(label(e.route, e.key)).n++
    }),
    events.on('stale', (e) => {
      stale(e.reason, label(e.route, e.key)).n++
    }),
    events.on('bypass', (e) => {
      bypass(e.reason, label(e.route, undefined)).n++
    }),
    events.on('skip', (e) => {
      skip(e.reason, label(e.route, e.key)).n++
    }),
    events.on('set', (e) => {
      if (e.written) stored(label(e.route, e.key)).n += e.bytes
    }),
    events.on('lockWait', (e) => {
      observe(metrics.lockWait, lockLabels(label(e.route, e.key), e.outcome), e.durationMs)
    }),
    events.on('load', (e) => {
      observe(metrics.load, loadLabels(label(e.route, e.key), e.ok ? 'ok' : 'error'), e.durationMs)
    }),
    events.on('error', (e) => {
      ;(isStoreTimeout(e.error) ? storeTimeout : storeError)(e.operation).n++
    }),
    events.on('circuit', (e) => {
      transition(e.state).n++
    }),
    events.on('invalidate', (e) => {
      invalidation(e.mode).n += e.tags.length
    }),
    events.on('delete', (e) => {
      invalidation('delete').n += e.keys.length
    }),
  ]
  return () => {
    for (const off of offs) off()
  }
}
