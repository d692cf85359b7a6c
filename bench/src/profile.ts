import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Loader } from './load.js'
import { BENCH_DIR, startServer } from './proc.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
}

/** Which part of the stack a frame belongs to. */
function area(url: string): string {
  if (url === '') return '(native / GC / idle)'
  if (url.startsWith('node:')) return 'node core'
  const pkg = /packages\/([^/]+)\/src\//.exec(url)
  if (pkg) return `@fastkey/${pkg[1]}`
  const mod = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (mod) return mod[1]!
  if (url.includes('/bench/')) return 'bench harness'
  return url
}

export function summarizeProfile(profile: CpuProfile, top = 25): string {
  const total = profile.samples.length
  const self = new Map<string, number>()
  const areas = new Map<string, number>()
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    if (hits === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const where = url
      ? `${url.replace(/^.*\/(packages|node_modules)\//, '$1/').replace(/^file:\/\//, '')}:${lineNumber + 1}`
      : ''
    const name = `${functionName || '(anonymous)'} ${where}`.trim()
    self.set(name, (self.get(name) ?? 0) + hits)
    areas.set(area(url), (areas.get(area(url)) ?? 0) + hits)
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1)} %`
  const lines = ['| area | self time |', '| --- | ---: |']
  for (const [name, hits] of [...areas].sort((a, b) => b[1] - a[1])) lines.push(`| ${name} | ${pct(hits)} |`)
  lines.push('', '| function (self time) | share |', '| --- | ---: |')
  for (const [name, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`| \`${name}\` | ${pct(hits)} |`)
  return lines.join('\n')
}

/** `pnpm bench --profile`: CPU profiles (node --cpu-prof) of the floor, L1-hit and KeyDB-hit servers under load. */
export async function profileHotPaths(o: {
  token: string
  load: Loader
  log(line: string): void
  durationS: number
  connections: number
}): Promise<void> {
  const out = join(BENCH_DIR, '.out')
  const sections: string[] = [
    '# CPU profiles of the hot paths',
    '',
    `${o.durationS} s of load, ${o.connections} connections, self time per sample share.`,
    '',
  ]
  for (const mode of ['floor', 'fk-l1', 'fk-keydb']) {
    const dir = join(out, `profile-${mode}`)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const server = await startServer(mode, ['--mode', mode, '--prefix', `${o.token}-prof-${mode}`], {
      cpu: 0,
      extraNodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    })
    await o.load({ url: server.url, durationS: 2, connections: o.connections, cpu: 1 })
    const result = await o.load({
      url: server.url,
      durationS: o.durationS,
      connections: o.connections,
      cpu: 1,
    })
    await server.stop()
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`${mode}: no .cpuprofile written`)
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile
    sections.push(
      `## ${mode} (${Math.round(result.rps)} req/s while profiling)`,
      '',
      summarizeProfile(profile),
      '',
    )
    o.log(`  ${mode}: ${Math.round(result.rps)} req/s, profile in ${join(dir, file)}`)
  }
  writeFileSync(join(out, 'PROFILE.md'), `${sections.join('\n')}\n`)
  o.log(`wrote ${join(out, 'PROFILE.md')}`)
}
