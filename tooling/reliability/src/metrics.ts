import type { Registry } from 'prom-client'

/** Sum of a metric's values whose labels include `labels` (0 when the metric has none yet). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) throw new Error(`metric ${name} is not registered`)
  const { values } = await metric.get()
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0)
}

/** Number of series (label combinations, histogram buckets included) over every metric of the registry. */
export async function seriesCount(registry: Registry): Promise<number> {
  const metrics = await registry.getMetricsAsJSON()
  return metrics.reduce((sum, m) => sum + (m.values as unknown[]).length, 0)
}
