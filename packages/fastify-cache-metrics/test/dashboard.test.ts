import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { METRIC_NAMES } from '../src/index.js'
import { P } from './helpers.js'

const root = new URL('../../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
/** The dashboard as published in the package and as docker-compose provisions it: one file. */
const DASHBOARD = 'packages/fastify-cache-metrics/dashboards/fastkey-cache.json'
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax
const DATASOURCE_VARIABLE = '${datasource}'
const PROVISIONED_UID = 'fastkey-prometheus'

interface Panel {
  id: number
  type: string
  title: string
  datasource?: { type: string; uid: string }
  targets?: Array<{ expr: string; datasource: { uid: string } }>
}

interface Variable {
  name: string
  type: string
  query?: unknown
  datasource?: { type: string; uid: string }
}

/** Every `datasource` object anywhere in the dashboard, with where it was found. */
function datasourceRefs(node: unknown, at = '$'): Array<{ at: string; ref: unknown }> {
  if (Array.isArray(node)) return node.flatMap((item, i) => datasourceRefs(item, `${at}[${i}]`))
  if (!node || typeof node !== 'object') return []
  return Object.entries(node).flatMap(([key, value]) => [
    ...(key === 'datasource' ? [{ at: `${at}.${key}`, ref: value }] : []),
    ...datasourceRefs(value, `${at}.${key}`),
  ])
}

/** Every series name the plugin exports (histograms as _bucket, _count and _sum). */
const exported = new Set(
  METRIC_NAMES.flatMap((name) =>
    name.endsWith('_seconds') ? ['_bucket', '_count', '_sum'].map((s) => P + name + s) : [P + name],
  ),
)

describe('Grafana dashboard (published with the package) and provisioning (tooling/grafana)', () => {
  const text = read(DASHBOARD)
  const dashboard = JSON.parse(text) as {
    uid: string
    title: string
    panels: Panel[]
    templating: { list: Variable[] }
  }
  const panels = dashboard.panels.filter((p) => p.type !== 'row')

  it('is a dashboard whose every panel queries the chosen Prometheus with our metric names', () => {
    expect(dashboard.uid).toBe('fastkey-cache')
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length)
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: DATASOURCE_VARIABLE })
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const target of panel.targets ?? []) {
        expect(target.datasource.uid).toBe(DATASOURCE_VARIABLE)
        const names = [...target.expr.matchAll(/\bfastkey_cache_\w+/g)].map((m) => m[0])
        const regexNames = /__name__=~"fastkey_cache_\((\w+(?:\|\w+)*)\)_total"/.exec(target.expr)
        if (regexNames) names.push(...regexNames[1]!.split('|').map((n) => `${P}${n}_total`))
        expect(names.length, target.expr).toBeGreaterThan(0)
        for (const name of names) expect(exported.has(name), `${panel.title}: ${name}`).toBe(true)
      }
    }
  })

  it('has the panels the issue asks for', () => {
    const titles = panels.map((p) => p.title)
    for (const wanted of [
      'Hit ratio by route',
      'Stale ratio by reason',
      'Lock wait p99 by route',
      'Loader p99 by route',
      'KeyDB errors and timeouts by operation',
      'Circuit breaker state',
      'L1 entries',
      'L1 bytes',
      'Bytes stored per second by route',
    ])
      expect(titles).toContain(wanted)
  })

  it('has a datasource variable of type prometheus, and no datasource uid of its own anywhere', () => {
    const [first, ...others] = dashboard.templating.list
    expect(first).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' })
    for (const variable of others.filter((v) => v.type === 'query')) {
      expect(variable.datasource, variable.name).toEqual({ type: 'prometheus', uid: DATASOURCE_VARIABLE })
    }
    const refs = datasourceRefs(dashboard)
    // 34 panel and target references plus the two query variables.
    expect(refs.length).toBeGreaterThan(30)
    for (const { at, ref } of refs) expect(ref, at).toEqual({ type: 'prometheus', uid: DATASOURCE_VARIABLE })
    // Not even in a string somewhere: imported elsewhere, a fixed uid would point at nothing.
    expect(text).not.toContain(PROVISIONED_UID)
  })

  it('ships in the package: listed in files and exports, also once published', () => {
    const manifest = JSON.parse(read('packages/fastify-cache-metrics/package.json')) as {
      files: string[]
      exports: Record<string, unknown>
      publishConfig: { exports: Record<string, unknown> }
    }
    expect(manifest.files).toContain('dashboards')
    const entry = { './dashboards/fastkey-cache.json': './dashboards/fastkey-cache.json' }
    expect(manifest.exports).toMatchObject(entry)
    expect(manifest.publishConfig.exports).toMatchObject(entry)
  })

  it('is provisioned where docker-compose.yml mounts it: the packaged file itself', () => {
    const datasource = read('tooling/grafana/provisioning/datasources/prometheus.yml')
    // The default Prometheus datasource is what the dashboard's variable picks when nothing is chosen.
    expect(datasource).toMatch(/^\s+type: prometheus$/m)
    expect(datasource).toMatch(/^\s+isDefault: true$/m)
    expect(datasource).toMatch(/^\s+url: http:\/\/prometheus:9090$/m)
    const provider = read('tooling/grafana/provisioning/dashboards/fastkey.yml')
    expect(provider).toMatch(/^\s+type: file$/m)
    expect(provider).toMatch(/^\s+path: \/var\/lib\/grafana\/dashboards$/m)
    const compose = read('docker-compose.yml')
    expect(compose).toContain('./tooling/grafana/provisioning:/etc/grafana/provisioning:ro')
    expect(compose).toContain('./packages/fastify-cache-metrics/dashboards:/var/lib/grafana/dashboards:ro')
    expect(compose).not.toMatch(/tooling\/grafana\/dashboards/)
  })
})
