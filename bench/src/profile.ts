import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { prewarm } from './http-bench.js'
import type { Loader } from './load.js'
import { MODES } from './modes.js'
import { BENCH_DIR, cpuMicros, startServer } from './proc.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
}

/** Which part of the stack a frame belongs to. */
function area(url: string): string {
  if (url === '') return '(native / GC)'
  if (url.startsWith('node:')) return 'node core'
  const pkg = /packages\/([^/]+)\/src\//.exec(url)
  if (pkg) return `@fastkey/${pkg[1]}`
  const mod = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (mod) return mod[1]!
  if (url.includes('/bench/')) return 'bench harness'
  return url
}

export function summarizeProfile(profile: CpuProfile, top = 25): string {
  const idle = profile.nodes
    .filter((n) => n.callFrame.functionName === '(idle)')
    .reduce((sum, n) => sum + (n.hitCount ?? 0), 0)
  // Shares of busy time: idle is the event loop waiting for requests.
  const total = profile.samples.length - idle
  const self = new Map<string, number>()
  const areas = new Map<string, number>()
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    if (hits === 0 || node.callFrame.functionName === '(idle)') continue
    const { functionName, url, lineNumber } = node.callFrame
    const where = url
      ? `${url.replace(/^.*\/(packages|node_modules)\//, '$1/').replace(/^file:\/\//, '')}:${lineNumber + 1}`
      : ''
    const name = `${functionName || '(anonymous)'} ${where}`.trim()
    self.set(name, (self.get(name) ?? 0) + hits)
    areas.set(area(url), (areas.get(area(url)) ?? 0) + hits)
  }
  // Inclusive: samples with at least one frame of the area on the stack.
  const parent = new Map<number, ProfileNode>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node)
  const inclusive = new Map<string, number>()
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    if (hits === 0 || node.callFrame.functionName === '(idle)') continue
    const seen = new Set<string>()
    for (let n: ProfileNode | undefined = node; n; n = parent.get(n.id))
      if (n.callFrame.url) seen.add(area(n.callFrame.url))
    for (const a of seen) inclusive.set(a, (inclusive.get(a) ?? 0) + hits)
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1)} %`
  const lines = [
    `Idle ${((100 * idle) / profile.samples.length).toFixed(1)} % of samples; the shares below are of busy time.`,
    '',
    '| area | self time | inclusive |',
    '| --- | ---: | ---: |',
  ]
  for (const [name, hits] of [...areas].sort((a, b) => b[1] - a[1]))
    if (hits / total >= 0.001)
      lines.push(`| ${name} | ${pct(hits)} | ${inclusive.has(name) ? pct(inclusive.get(name)!) : ''} |`)
  lines.push('', '| function (self time) | share |', '| --- | ---: |')
  for (const [name, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`| \`${name}\` | ${pct(hits)} |`)
  return lines.join('\n')
}

/**
 * `pnpm bench --profile`: CPU profiles (V8 sampling profiler through the inspector, only while the
 * load runs) of the floor, L1-hit and KeyDB-hit servers, summarized by area and by function.
 */
export async function profileHotPaths(o: {
  token: string
  load: Loader
  log(line: string): void
  durationS: number
  connections: number
  /** Each mode is profiled at each of these key counts (ids 1..keys cycled, pre-warmed). */
  keys: number[]
  /** Modes to profile (default the floor, the L1 hit and the KeyDB hit). */
  modes?: string[]
  /** Nodes (host:port,…) of the cluster a cluster mode connects to. */
  cluster?: string
}): Promise<void> {
  const out = join(BENCH_DIR, '.out')
  mkdirSync(out, { recursive: true })
  const sections: string[] = [
    '# CPU profiles of the hot paths',
    '',
    `${o.durationS} s of wrk load (${o.connections} connections) after a 2 s warm-up, server pinned to one core; share of samples by self time. "(idle)" is time the event loop waited for requests.`,
    '',
  ]
  for (const keys of o.keys)
    for (const mode of o.modes ?? ['floor', 'fk-l1', 'fk-keydb']) await profileOne(mode, keys)

  async function profileOne(mode: string, keys: number) {
    const server = await startServer(
      mode,
      [
        '--mode',
        mode,
        '--prefix',
        `${o.token}-prof-${mode}-${keys}`,
        '--keys',
        String(keys),
        '--ttl',
        '3600000',
        ...(o.cluster && MODES.find((m) => m.name === mode)?.cluster ? ['--cluster', o.cluster] : []),
      ],
      { cpu: 0 },
    )
    try {
      await prewarm(
        server,
        {
          name: mode,
          label: mode,
          group: 'fastkey',
          args: [],
          path: '/item/',
          fastkey: true,
          maxKeys: keys,
          countsOrigin: !mode.startsWith('floor'),
        },
        1,
      )
      await o.load({ url: server.url, keys, durationS: 2, connections: o.connections, cpu: 1 })
      await fetch(`${server.url}/__bench/profile/start`, { method: 'POST' })
      const cpu0 = cpuMicros(server.pid)
      const result = await o.load({
        url: server.url,
        keys,
        durationS: o.durationS,
        connections: o.connections,
        cpu: 1,
      })
      const cpuPerReq = (cpuMicros(server.pid) - cpu0) / Math.max(1, result.requests)
      const profile = (await (
        await fetch(`${server.url}/__bench/profile/stop`, { method: 'POST' })
      ).json()) as CpuProfile
      const file = join(out, `profile-${mode}-${keys}.cpuprofile`)
      writeFileSync(file, JSON.stringify(profile))
      sections.push(
        `## ${mode}, ${keys} keys (${Math.round(result.rps)} req/s, ${cpuPerReq.toFixed(1)} server CPU µs/req while profiling)`,
        '',
        summarizeProfile(profile),
        '',
      )
      o.log(
        `  ${mode} ${keys} keys: ${Math.round(result.rps)} req/s, ${cpuPerReq.toFixed(1)} µs/req, profile in ${file}`,
      )
    } finally {
      await server.stop()
    }
  }
  writeFileSync(join(out, 'PROFILE.md'), `${sections.join('\n')}\n`)
  o.log(`wrote ${join(out, 'PROFILE.md')}`)
}
