import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { METRIC_NAMES } from '../src/index.js'
import { P } from './helpers.js'

const root = new URL('../../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
const DATASOURCE_UID = 'fastkey-prometheus'

interface Panel {
  id: number
  type: string
  title: string
  datasource?: { type: string; uid: string }
  targets?: Array<{ expr: string; datasource: { uid: string } }>
}

/** Every series name the plugin exports (histograms as _bucket, _count and _sum). */
const exported = new Set(
  METRIC_NAMES.flatMap((name) =>
    name.endsWith('_seconds') ? ['_bucket', '_count', '_sum'].map((s) => P + name + s) : [P + name],
  ),
)

describe('Grafana dashboard and provisioning (tooling/grafana)', () => {
  const dashboard = JSON.parse(read('tooling/grafana/dashboards/fastkey-cache.json')) as {
    uid: string
    title: string
    panels: Panel[]
  }
  const panels = dashboard.panels.filter((p) => p.type !== 'row')

  it('is a dashboard whose every panel queries the provisioned Prometheus with our metric names', () => {
    expect(dashboard.uid).toBe('fastkey-cache')
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length)
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe(DATASOURCE_UID)
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const target of panel.targets ?? []) {
        expect(target.datasource.uid).toBe(DATASOURCE_UID)
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

  it('is provisioned where docker-compose.yml mounts it', () => {
    const datasource = read('tooling/grafana/provisioning/datasources/prometheus.yml')
    expect(datasource).toMatch(new RegExp(`^\\s+uid: ${DATASOURCE_UID}$`, 'm'))
    expect(datasource).toMatch(/^\s+url: http:\/\/prometheus:9090$/m)
    const provider = read('tooling/grafana/provisioning/dashboards/fastkey.yml')
    expect(provider).toMatch(/^\s+type: file$/m)
    expect(provider).toMatch(/^\s+path: \/var\/lib\/grafana\/dashboards$/m)
    const compose = read('docker-compose.yml')
    expect(compose).toContain('./tooling/grafana/provisioning:/etc/grafana/provisioning')
    expect(compose).toContain('./tooling/grafana/dashboards:/var/lib/grafana/dashboards')
  })
})
