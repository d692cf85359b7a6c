import type { Cell, CellResult, ModeResult } from './http-bench.js'
import type { MachineInfo } from './services.js'
import { fmt, median } from './stats.js'
import { barChart } from './svg.js'
import { evaluate, mark, netKeydbCpu, PEER_PAIRS, type Results } from './targets.js'
import { SATURATION_S } from './workload.js'

export interface RunInfo {
  startedAt: Date
  durationS: number
  machine: MachineInfo
  rounds: number
  secondsPerMode: number
  warmupS: number
  cells: Cell[]
  mainCell: number
  /** How KeyDB's CPU time was read. */
  keydbCpuHow?: string
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
    if (m.samples.length === 0)
      return [m.spec.label, m.pending ?? 'not measured', '', '', '', '', '', '', '', '', '']
    return [
      m.note ? `${m.spec.label} (${m.note})` : m.spec.label,
      fmt(m.rps),
      fmt(m.p50Ms, 2),
      fmt(m.p99Ms, 2),
      fmt(m.cpuUsPerReq, 1),
      `${fmt(m.coreUse * 100)} %`,
      `${fmt(m.ratioToFloor, 2)}×`,
      `${fmt(m.cpuRatioToFloor, 2)}×`,
      fmt(m.keydbCpuUsPerReq, 2),
      Number.isFinite(m.hitRatio) ? `${fmt(m.hitRatio * 100, 2)} %` : '—',
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
    `The main cell: ${fmt(http.keys)} distinct ids, ${http.connections} connections (every mode; the sweep over keys × connections follows). Medians over ${info.rounds} rounds of ${info.secondsPerMode} s per mode (${info.loaderNote}). Every server was pre-warmed over all its ids first, so a window counts hits only; "hits" is 1 − origin calls ÷ requests over its windows. "KeyDB CPU µs/req" is the KeyDB server's own CPU time over the window (${info.keydbCpuHow ?? 'not read'}) ÷ requests; KeyDB is shared with other jobs, so the floor's figure (which never touches KeyDB) is the background. The floor runs before, between every three and after the other modes in each round; each mode's ratio is taken against the floor measured just before and after it, then the median over rounds. "core use" is the share of its core the server used under load: near 100 % the server was the bottleneck; well below, other jobs on the machine or the load generator limited the run, and req/s ratios compress toward 1 while CPU µs per request still compares the work done per request.`,
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
        'KeyDB CPU µs/req',
        'hits',
        'errors',
      ],
      httpRows(http.modes),
    ),
    '',
    '![Throughput relative to the floor](results.svg)',
    '',
    ...sweepSection(http.cells),
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

const pct = (v: number) => `${fmt(v, 2)}×`

/** The sweep: every (keys × connections) cell, ratios against the floor of the same cell. */
function sweepSection(cells: CellResult[]): string[] {
  if (cells.length < 2) return []
  const head = (c: CellResult) => `${fmt(c.keys)} k / ${c.connections} c`
  const names = [
    ...new Set(cells.flatMap((c) => c.modes.filter((m) => m.spec.sweep).map((m) => m.spec.name))),
  ]
  const labelOf = (name: string) => cells[0]!.modes.find((m) => m.spec.name === name)?.spec.label ?? name
  const at = (c: CellResult, name: string) =>
    c.modes.find((m) => m.spec.name === name && m.samples.length > 0)
  const floorRow = [
    'floor req/s (CPU µs/req)',
    ...cells.map((c) => {
      const f = at(c, 'floor')
      return f ? `${fmt(f.rps)} (${fmt(f.cpuUsPerReq, 1)})` : '—'
    }),
  ]
  const out = [
    '### HTTP hits by key count and connections',
    '',
    'Every cell of the sweep (k: distinct ids the load cycles over, c: wrk connections); each mode divided by the floor measured around it in the same cell, median over rounds, by req/s and in brackets by server CPU µs per request. The lowest hit ratio of each cell is in the last row.',
    '',
    table(
      ['mode', ...cells.map(head)],
      [
        floorRow,
        ...names
          .filter((n) => n !== 'floor')
          .map((n) => [
            labelOf(n),
            ...cells.map((c) => {
              const m = at(c, n)
              return m ? `${pct(m.ratioToFloor)} (${pct(m.cpuRatioToFloor)})` : '—'
            }),
          ]),
        [
          'lowest hit ratio',
          ...cells.map((c) => {
            const hits = c.modes.filter((m) => m.samples.length && Number.isFinite(m.hitRatio))
            return hits.length ? `${fmt(Math.min(...hits.map((m) => m.hitRatio)) * 100, 2)} %` : '—'
          }),
        ],
      ],
    ),
    '',
    '#### fastkey ÷ peer on the same store, per cell',
    '',
    'By req/s, in brackets by server CPU µs per request (per round, each divided by the floor around it; median).',
    '',
    table(
      ['pair', ...cells.map(head)],
      PEER_PAIRS.map(([peer, fk]) => [
        `${fk} ÷ ${peer}`,
        ...cells.map((c) =>
          at(c, peer) && at(c, fk)
            ? `${pct(c.pairRatio(fk, peer))} (${pct(c.pairRatio(fk, peer, 'cpu'))})`
            : '—',
        ),
      ]),
    ),
    '',
    '#### KeyDB CPU per request, per cell',
    '',
    "KeyDB's own CPU µs per request served, less the background measured during the floor's windows of the same cell (the floor never touches KeyDB; other jobs share this KeyDB). The ratio row is fastkey's KeyDB hit ÷ one plain `GET` per request (target ≤ 1.3×).",
    '',
    table(
      ['mode', ...cells.map(head)],
      [
        [
          'background (floor windows), µs/s',
          ...cells.map((c) => {
            const f = at(c, 'floor')
            return f ? fmt(f.keydbCpuUsPerReq * f.rps) : '—'
          }),
        ],
        ...[
          'fk-keydb',
          'fk-keydb-tags',
          'redis-get',
          'acd-redis',
          'bento-redis',
          'bento-l1l2',
          'cm-redis',
          'fk-l1',
        ]
          .filter((n) => names.includes(n))
          .map((n) => [
            labelOf(n),
            ...cells.map((c) => {
              const m = at(c, n)
              return m ? fmt(netKeydbCpu(c, m), 2) : '—'
            }),
          ]),
        [
          'fk-keydb ÷ redis-get',
          ...cells.map((c) => {
            const fk = at(c, 'fk-keydb')
            const get = at(c, 'redis-get')
            return fk && get ? pct(netKeydbCpu(c, fk) / netKeydbCpu(c, get)) : '—'
          }),
        ],
      ],
    ),
    '',
  ]
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

function workloadSection(results: Results): string[] {
  const w = results.workload
  if (!w?.length) return []
  return [
    '### Workload: two demo instances, Zipf reads, 1 % PATCH',
    '',
    `Two demo instances on one KeyDB and one Postgres (10,000 products), one wrk per instance (50 connections each, one Host header): GET /products/:id with Zipf(1.1) ids 89 %, list routes 10 % (/products?limit=20, /categories, /products/featured), PATCH /products/:id 1 %. Warm first (every product read once, then 3 s of the mix), then measured at an offered rate of ${fmt(w[0]!.offeredRps)} req/s (each connection waits an exponential time between requests), then ${SATURATION_S} s closed loop (the most answered). Reads from the cache: HIT or STALE over the reads that carry x-cache (the featured list, 2 % of requests, is cached by the \`@cached\` service and says nothing). Database load: transactions per second of the bench database in pg_stat_database (each autocommit query is one). p50/p99: the worse of the two instances.`,
    '',
    table(
      [
        'cache',
        'req/s answered',
        'p50 ms',
        'p99 ms',
        'reads from the cache',
        'product pages',
        'lists',
        'db xact/s',
        'PATCHes',
        'errors',
        'closed loop req/s',
      ],
      w.map((r) => [
        r.cache === 'none' ? 'off' : 'KeyDB',
        fmt(r.rps),
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        `${fmt(r.cachedReads * 100, 1)} %`,
        `${fmt(r.cachedProductReads * 100, 1)} %`,
        `${fmt(r.cachedListReads * 100, 1)} %`,
        fmt(r.dbTps),
        fmt(r.patches),
        fmt(r.errors),
        fmt(r.saturationRps),
      ]),
    ),
    '',
  ]
}

function rssSection(results: Results): string[] {
  const r = results.rss
  if (!r) return []
  return [
    '### RSS under minutes of hits',
    '',
    `${r.mode} on ${fmt(r.keys)} distinct ids, ${r.connections} connections, ${r.minutes} min; the server's memory sampled after each load window.`,
    '',
    table(
      ['after s', 'RSS MiB', 'heap used MiB', 'external + array buffers MiB', 'L1 entries', 'req/s'],
      r.samples.map((s) => [
        fmt(s.atS),
        fmt(s.rssMiB, 1),
        fmt(s.heapMiB, 1),
        fmt(s.externalMiB, 1),
        fmt(s.l1Entries),
        fmt(s.rps),
      ]),
    ),
    '',
  ]
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
    ...rssSection(results),
    ...workloadSection(results),
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
