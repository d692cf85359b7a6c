import type { ModeResult } from './http-bench.js'
import type { MachineInfo } from './services.js'
import { fmt, median } from './stats.js'
import { barChart } from './svg.js'
import { evaluate, mark, PEER_PAIRS, type Results } from './targets.js'

export interface RunInfo {
  startedAt: Date
  durationS: number
  machine: MachineInfo
  rounds: number
  secondsPerMode: number
  warmupS: number
  connections: number
  loaderNote: string
  problems: string[]
  command: string
}

const COLORS: Record<string, string> = {
  floor: '#444444',
  fastkey: '#2e8b57',
  peer: '#8a8a8a',
  reference: '#4a78b5',
  demo: '#c28a2c',
}

export function chart(results: Results, info: RunInfo): string {
  const modes = results.http?.modes ?? []
  return barChart({
    title: 'Throughput relative to the floor (same route, same run)',
    subtitle: `${info.machine.cores} cores, server pinned to one; ${info.rounds} rounds × ${info.secondsPerMode} s per mode, ${info.startedAt.toISOString().slice(0, 10)}`,
    bars: modes.map((m) => ({
      label: m.spec.label,
      value: m.ratioToFloor,
      secondary: m.cpuRatioToFloor,
      color: COLORS[m.spec.group] ?? '#999',
    })),
    guides: [
      { value: 0.85, label: '0.85' },
      { value: 0.92, label: '0.92' },
      { value: 1, label: '1.0' },
    ],
    legend: [
      { color: COLORS.floor!, label: 'floor' },
      { color: COLORS.fastkey!, label: 'fastkey' },
      { color: COLORS.peer!, label: 'peers' },
      { color: COLORS.reference!, label: 'references' },
      { color: COLORS.demo!, label: 'demo app' },
    ],
  })
}

const table = (header: string[], rows: string[][], align?: string[]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => align?.[i] ?? (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')

function httpRows(modes: ModeResult[]): string[][] {
  return modes.map((m) => {
    const errors = m.samples.reduce((s, x) => s + x.errors + x.non2xx, 0)
    if (m.samples.length === 0) return [m.spec.label, m.pending ?? 'not measured', '', '', '', '', '', '', '']
    return [
      m.note ? `${m.spec.label} (${m.note})` : m.spec.label,
      fmt(m.rps),
      fmt(m.p50Ms, 2),
      fmt(m.p99Ms, 2),
      fmt(m.cpuUsPerReq, 1),
      `${fmt(m.coreUse * 100)} %`,
      `${fmt(m.ratioToFloor, 2)}×`,
      `${fmt(m.cpuRatioToFloor, 2)}×`,
      String(errors),
    ]
  })
}

function httpSection(results: Results, info: RunInfo): string[] {
  const http = results.http
  if (!http) return ['## HTTP hits', '', 'Not run.']
  const out = [
    '## HTTP hits',
    '',
    `Medians over ${info.rounds} rounds of ${info.secondsPerMode} s per mode (${info.connections} connections, ${info.loaderNote}). The floor runs before, between every three and after the other modes in each round; each mode's ratio is taken against the floor measured just before and after it, then the median over rounds. "core use" is the share of its core the server used under load: near 100 % the server was the bottleneck; well below, other jobs on the machine or the load generator limited the run, and req/s ratios compress toward 1 while CPU µs per request still compares the work done per request.`,
    '',
    table(
      [
        'mode',
        'req/s',
        'p50 ms',
        'p99 ms',
        'server CPU µs/req',
        'core use',
        '× floor (req/s)',
        '× floor (CPU)',
        'errors',
      ],
      httpRows(http.modes),
    ),
    '',
    '![Throughput relative to the floor](results.svg)',
    '',
  ]
  const fastkey = ['fk-l1', 'fk-keydb'].filter((n) =>
    http.modes.some((m) => m.spec.name === n && m.samples.length),
  )
  const peers = http.modes.filter((m) => m.spec.group === 'peer' || m.spec.group === 'reference')
  if (fastkey.length && peers.length) {
    const same = new Set(PEER_PAIRS.map(([p, f]) => `${p}/${f}`))
    out.push(
      '### fastkey against each peer',
      '',
      'Each mode is first divided by the floor measured around it, then fastkey ÷ peer per round, median; by req/s, and in brackets by server CPU µs per request. **Bold**: the pair on the same store (memory/L1 against L1, Redis against KeyDB).',
      '',
      table(
        ['peer', ...fastkey.map((f) => `${f} ÷ peer`)],
        peers.map((p) => [
          p.spec.label,
          ...fastkey.map((f) => {
            const v = p.samples.length
              ? `${fmt(http.pairRatio(f, p.spec.name), 2)}× (${fmt(http.pairRatio(f, p.spec.name, 'cpu'), 2)}×)`
              : '—'
            return same.has(`${p.spec.name}/${f}`) ? `**${v}**` : v
          }),
        ]),
      ),
      '',
    )
  }
  return out
}

function missSection(results: Results): string[] {
  const out = ['## Miss path', '']
  if (results.stampede?.length) {
    const r0 = results.stampede[0]!
    out.push(
      `### Stampede: ${fmt(r0.requests)} concurrent requests for one cold key (origin ${r0.originMs} ms)`,
      '',
      'Processes share one KeyDB and the same Host header (instances behind one load balancer). Client: first request sent → last response received; server span: first request arrived → last response finished, over all processes (one clock). Waiters are the requests that arrived before the (first) origin call answered; the last column is the time from that answer to the last waiter’s response. The baseline is the same burst on the floor route (no cache, no origin): its span is what answering 1,000 requests costs on this machine at all, the floor under the waiters’ figure. Medians of the trials.',
      '',
      table(
        [
          'library',
          'processes',
          'origin calls per trial',
          'last served (client) ms',
          'server span ms',
          'waiters',
          'last waiter after origin answered ms',
          'non-200',
        ],
        results.stampede.map((r) => [
          r.label,
          String(r.processes),
          r.originCalls.join(', '),
          fmt(r.lastMs),
          fmt(r.serverSpanMs),
          r.label.startsWith('baseline') ? '' : fmt(r.waiters),
          r.label.startsWith('baseline') ? '' : fmt(r.afterOriginMs),
          String(r.non200),
        ]),
      ),
      '',
    )
  }
  const s = results.swr
  if (s) {
    const g = (x: typeof s.stale) =>
      x ? [fmt(x.count), fmt(x.p50Ms, 1), fmt(x.p99Ms, 1), fmt(x.maxMs, 1)] : ['0', '—', '—', '—']
    out.push(
      `### Stale-while-revalidate under load (ttl ${s.ttlMs} ms, origin ${s.originMs} ms, ${s.durationS} s)`,
      '',
      `The entry turns stale every ${s.ttlMs} ms; one background refresh (${s.originMs} ms) runs while stale copies are served. Origin calls during the run: ${s.originCalls}.`,
      '',
      table(
        ['served as', 'responses', 'p50 ms', 'p99 ms', 'max ms'],
        [
          ['HIT', ...g(s.hit)],
          ['STALE', ...g(s.stale)],
          ['MISS', ...g(s.miss)],
        ],
      ),
      '',
    )
  }
  if (results.tags?.length) {
    out.push(
      '### Tag invalidation',
      '',
      `\`cache.invalidateTags([tag])\` with @fastkey/cache-tags against the number of entries carrying the tag (median of ${results.tags[0]!.runs} runs; after each, a sample of the entries must miss). For contrast, unlinking the same entries through a reference set (SSCAN + UNLINK), as reference-set tag schemes do.`,
      '',
      table(
        ['entries with the tag', 'invalidateTags median ms', 'min', 'max', 'reference-set purge ms'],
        results.tags.map((t) => [
          fmt(t.entries),
          fmt(t.medianMs, 2),
          fmt(t.minMs, 2),
          fmt(t.maxMs, 2),
          fmt(t.referenceSetMs, 1),
        ]),
      ),
      '',
    )
  }
  return out
}

function memorySection(results: Results): string[] {
  if (!results.memory?.length) return []
  const mib = (b: number) => fmt(b / 2 ** 20, 1)
  return [
    '## Memory',
    '',
    `${fmt(results.memory[0]!.entries)} entries of ~1 KB read through the engine with an L1 bounded by \`maxBytes\` (\`maxEntries\` set high so bytes are the bound). Deltas are after − before reading, both after a forced GC. Bodies are Buffers, outside the JS heap.`,
    '',
    table(
      [
        'maxBytes MiB',
        'L1 entries',
        'L1 MiB',
        'Buffer memory Δ MiB',
        'heap Δ MiB',
        'RSS Δ MiB',
        'RSS after MiB',
      ],
      results.memory.map((m) => [
        mib(m.maxBytes),
        fmt(m.l1Entries),
        mib(m.l1Bytes),
        mib(m.bufferDelta),
        mib(m.heapDelta),
        mib(m.rssDelta),
        mib(m.rssAfter),
      ]),
    ),
    '',
  ]
}

export function markdown(results: Results, info: RunInfo): string {
  const m = info.machine
  const targets = evaluate(results)
  return `${[
    '# fastkey benchmark results',
    '',
    `Written by \`${info.command}\` on ${info.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC; the run took ${fmt(info.durationS / 60, 1)} min. Method and how to read these: [README.md](README.md).`,
    '',
    '> This machine is shared and noisy (2 cores, other jobs run beside the bench). Absolute req/s move by ±30 % between runs; the ratios of one run and the server CPU µs per request are what to compare.',
    '',
    '## Machine and versions',
    '',
    `- ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.kernel}`,
    `- Node ${m.node}; Redis ${m.redis} standing in for KeyDB; PostgreSQL ${m.postgres}`,
    `- load generator: ${m.loader}`,
    `- ${Object.entries(m.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
    '## Targets (DESIGN.md section 10)',
    '',
    'Judged by req/s (as the issue asks) and, where it applies, by server CPU µs per request (steadier when other jobs take the cores: see "core use" below).',
    '',
    table(
      ['req/s', 'CPU', 'target', 'measured'],
      targets.map((t) => [mark(t.met), 'metCpu' in t ? mark(t.metCpu) : '', t.name, t.figure]),
      [':---:', ':---:', '---', '---'],
    ),
    '',
    ...(info.problems.length
      ? ['**Problems during the run:**', '', ...info.problems.map((p) => `- ${p}`), '']
      : []),
    ...httpSection(results, info),
    ...missSection(results),
    ...memorySection(results),
    ...rawRounds(results),
  ].join('\n')}\n`
}

function rawRounds(results: Results): string[] {
  const modes = results.http?.modes.filter((m) => m.samples.length) ?? []
  if (!modes.length) return []
  const rounds = Math.max(...modes.flatMap((m) => m.samples.map((x) => x.round))) + 1
  return [
    '<details><summary>Every round (req/s, server CPU µs/req; the floor: median of its runs in the round)</summary>',
    '',
    table(
      ['mode', ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`)],
      modes.map((m) => [
        m.spec.name,
        ...Array.from({ length: rounds }, (_, i) => {
          const inRound = m.samples.filter((x) => x.round === i)
          if (inRound.length === 0) return '—'
          return `${fmt(median(inRound.map((x) => x.rps)))} / ${fmt(median(inRound.map((x) => x.cpuUsPerReq)), 1)}`
        }),
      ]),
    ),
    '',
    '</details>',
  ]
}
