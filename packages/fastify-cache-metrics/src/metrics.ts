import type { Cache, CircuitState } from '@fastkey/fastify-cache'
import { Gauge, Histogram, type Metric, type Registry } from 'prom-client'
import { errors } from './errors.js'
import type { ResolvedMetricsOptions } from './options.js'
import { TallyCounter } from './tally.js'

/** Metric names without the prefix; the README lists them with their labels. */
export const METRIC_NAMES = [
  'hits_total',
  'misses_total',
  'stale_total',
  'bypasses_total',
  'skips_total',
  'lock_wait_seconds',
  'load_duration_seconds',
  'store_errors_total',
  'store_timeouts_total',
  'circuit_state',
  'circuit_transitions_total',
  'invalidations_total',
  'stored_bytes_total',
  'l1_entries',
  'l1_bytes',
  'invalidations_pending',
] as const

/** Value of the `circuit_state` gauge. */
export const CIRCUIT_VALUES: Readonly<Record<CircuitState, number>> = Object.freeze({
  closed: 0,
  'half-open': 1,
  open: 2,
})

export interface CacheMetricSet {
  hits: TallyCounter
  misses: TallyCounter
  stale: TallyCounter
  bypasses: TallyCounter
  skips: TallyCounter
  lockWait: Histogram
  load: Histogram
  storeErrors: TallyCounter
  storeTimeouts: TallyCounter
  circuitTransitions: TallyCounter
  invalidations: TallyCounter
  storedBytes: TallyCounter
  /** Every metric created, by full name (to remove them on close). */
  all: Map<string, Metric>
}

/** Throws FST_CACHE_METRICS_NAME_TAKEN before creating anything if one name is already registered. */
function assertNamesFree(registry: Registry, prefix: string): void {
  for (const name of METRIC_NAMES) {
    const full = prefix + name
    if (registry.getSingleMetric(full) !== undefined) throw new errors.FST_CACHE_METRICS_NAME_TAKEN(full)
  }
}

/** Creates the plugin's metrics in `options.registry`, reading `cache` for the gauges. */
export function createMetrics(cache: Cache, options: ResolvedMetricsOptions): CacheMetricSet {
  const { registry, prefix, buckets } = options
  assertNamesFree(registry, prefix)
  const counter = (name: string, help: string, labels: readonly string[]) =>
    new TallyCounter(registry, prefix + name, help, labels)
  const set = {
    hits: counter('hits_total', 'Fresh entries served, by route and tier (l1, keydb or memory)', [
      'route',
      'tier',
    ]),
    misses: counter('misses_total', 'Lookups that found no usable entry, by route', ['route']),
    stale: counter(
      'stale_total',
      'Stale entries served, by route and reason (revalidate, timeout, error = stale-if-error)',
      ['route', 'reason'],
    ),
    bypasses: counter('bypasses_total', 'Requests that skipped the cache, by route and reason', [
      'route',
      'reason',
    ]),
    skips: counter('skips_total', 'Values not cached (too-large, uncacheable, serialize), by route', [
      'route',
      'reason',
    ]),
    lockWait: new Histogram({
      name: `${prefix}lock_wait_seconds`,
      help: "Time spent waiting for another instance's fill, by route and outcome (filled, timeout)",
      labelNames: ['route', 'outcome'],
      buckets: buckets.lockWait,
      registers: [registry],
    }),
    load: new Histogram({
      name: `${prefix}load_duration_seconds`,
      help: 'Duration of loads that fill the cache, by route and result (ok, error)',
      labelNames: ['route', 'result'],
      buckets: buckets.load,
      registers: [registry],
    }),
    storeErrors: counter('store_errors_total', 'Failed store operations (timeouts excluded), by operation', [
      'operation',
    ]),
    storeTimeouts: counter('store_timeouts_total', 'Store operations past their deadline, by operation', [
      'operation',
    ]),
    circuitTransitions: counter('circuit_transitions_total', 'Circuit breaker changes, by new state', [
      'state',
    ]),
    invalidations: counter(
      'invalidations_total',
      'Tags invalidated (mode soft or hard) and keys deleted (mode delete)',
      ['mode'],
    ),
    storedBytes: counter('stored_bytes_total', 'Bytes of entries written to the store, by route', ['route']),
    all: new Map<string, Metric>(),
  }
  new Gauge({
    name: `${prefix}circuit_state`,
    help: 'Circuit breaker in front of the store: 0 closed, 1 half-open, 2 open',
    registers: [registry],
    collect() {
      this.set(CIRCUIT_VALUES[cache.circuitState])
    },
  })
  new Gauge({
    name: `${prefix}l1_entries`,
    help: 'Entries in the in-process tier',
    registers: [registry],
    collect() {
      this.set(cache.l1Stats.entries)
    },
  })
  new Gauge({
    name: `${prefix}l1_bytes`,
    help: 'Bytes of entry bodies in the in-process tier',
    registers: [registry],
    collect() {
      this.set(cache.l1Stats.bytes)
    },
  })
  new Gauge({
    name: `${prefix}invalidations_pending`,
    help: 'Invalidations held because the store was unreachable (keys, tags; clear 1 when a clear of everything is), replayed before the store is used again',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const { keys, tags, clear } = cache.pendingInvalidations
      this.set({ kind: 'keys' }, keys)
      this.set({ kind: 'tags' }, tags)
      this.set({ kind: 'clear' }, clear ? 1 : 0)
    },
  })
  for (const name of METRIC_NAMES) set.all.set(prefix + name, registry.getSingleMetric(prefix + name)!)
  return set
}

/** Removes the plugin's metrics from the registry (only those still being ours). */
export function removeMetrics(registry: Registry, set: CacheMetricSet): void {
  for (const [name, metric] of set.all)
    if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name)
}
