/**
 * `pnpm bench` — every scenario, then RESULTS.md and results.svg rewritten. `pnpm bench --smoke` checks
 * the harness in seconds (CI). Options: --rounds N, --duration S, --warmup S, --keys a,b,c (distinct
 * ids, swept), --connections a,b,c (wrk connections, swept),
 * --only http,stampede,swr,tags,memory, --modes a,b (HTTP modes), --check (start and check every
 * HTTP mode first), --profile (CPU profiles of the hot paths instead), --no-write.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DEMO_PRODUCTS } from './demo.js'
import { type Cell, checkModes, ITEM_1, runHttp, type ServerSpec } from './http-bench.js'
import { autocannonLoad, ensureWrk, type Loader, wrkLoad } from './load.js'
import { memoryFigure } from './memory-figure.js'
import { stampede, swr } from './miss-path.js'
import { MODES } from './modes.js'
import { BENCH_DIR, killAll } from './proc.js'
import { profileHotPaths } from './profile.js'
import { chart, markdown, type RunInfo } from './report.js'
import { rssFlatness } from './rss.js'
import {
  cleanupCluster,
  cleanupRedis,
  clusterNodes,
  createDatabase,
  keydbCpuReader,
  machineInfo,
  REDIS_URL,
} from './services.js'
import { tagInvalidation } from './tags.js'
import { evaluate, mark, type Results } from './targets.js'
import { workload } from './workload.js'

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    keys: { type: 'string', default: '100,1000,10000' },
    connections: { type: 'string', default: '50,100,256' },
    only: { type: 'string' },
    modes: { type: 'string' },
    profile: { type: 'boolean', default: false },
    /** Two demo instances, Zipf reads and 1 % PATCHes, cache on vs off (only this scenario). */
    workload: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    /** `--only rss`: minutes of hits on the largest key count (not in the default run). */
    'rss-minutes': { type: 'string', default: '10' },
    'workload-seconds': { type: 'string', default: '60' },
    /** The offered rate of `--workload`, req/s over both demo instances. */
    'workload-rps': { type: 'string', default: '1000' },
  },
})

const started = Date.now()
const runId = randomBytes(3).toString('hex')
const token = `bench-${runId}`
const smoke = args.smoke
const scenarios = new Set(
  args.workload ? ['workload'] : (args.only ?? 'http,stampede,swr,tags,memory').split(','),
)
const log = (line: string) => {
  process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`)
}
const problems: string[] = []
const SERVER_CPU = 0
const LOAD_CPU = 1

process.on('SIGINT', () => {
  killAll()
  process.exit(130)
})
process.on('SIGTERM', () => {
  killAll()
  process.exit(143)
})

const list = (value: string) =>
  value
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
const keyCounts = smoke ? [100] : list(args.keys)
const connectionCounts = smoke ? [10] : list(args.connections)
if (keyCounts.length === 0 || connectionCounts.length === 0)
  throw new Error(`--keys and --connections take comma-separated positive integers`)
const cells: Cell[] = keyCounts.flatMap((keys) =>
  connectionCounts.map((connections) => ({ keys, connections })),
)
/** Where the modes outside the sweep run: the cell nearest 1,000 keys and 100 connections (issue 14's). */
const mainCell = cells.reduce(
  (best, c, i) => {
    const d = Math.abs(Math.log(c.keys / 1000)) + Math.abs(Math.log(c.connections / 100))
    return d < best.d ? { i, d } : best
  },
  { i: 0, d: Number.POSITIVE_INFINITY },
).i
const maxKeys = Math.max(...keyCounts)
/** Long enough that no entry expires during a full run (the hits must stay hits). */
const HTTP_TTL_MS = 7_200_000

function itemSpecs(names?: string[], cluster?: string): ServerSpec[] {
  return MODES.filter((m) => (!names || names.includes(m.name)) && (!m.cluster || cluster)).map((m) => ({
    name: m.name,
    label: m.label,
    group: m.group,
    args: [
      '--mode',
      m.name,
      '--prefix',
      `${token}-${m.name}`,
      '--redis',
      REDIS_URL,
      '--keys',
      String(maxKeys),
      '--ttl',
      String(HTTP_TTL_MS),
      ...(m.cluster && cluster ? ['--cluster', cluster] : []),
    ],
    path: '/item/',
    fastkey: m.fastkey,
    expected: ITEM_1,
    maxKeys,
    ...(m.sweep && { sweep: true }),
    ...(m.cluster && { cluster: true }),
    // The floor and its references answer without an origin.
    countsOrigin: m.group !== 'floor' && !m.name.startsWith('floor-'),
  }))
}

const DEMO_MODES = [
  { cache: 'none', label: 'demo GET /products/:id, no cache (Postgres)' },
  { cache: 'keydb', label: 'demo GET /products/:id, KeyDB (as server.ts)' },
  { cache: 'keydb-l1', label: 'demo GET /products/:id, KeyDB + L1' },
]

/** The demo app's product route, all hits once warm, against Postgres and KeyDB. */
function demoSpecs(databaseUrl: string, names?: string[]): ServerSpec[] {
  return DEMO_MODES.filter((d) => !names || names.includes(`demo-${d.cache}`)).map((d) => ({
    name: `demo-${d.cache}`,
    label: d.label,
    group: 'demo',
    args: [
      '--mode',
      'demo',
      '--demo-cache',
      d.cache,
      '--database',
      databaseUrl,
      '--prefix',
      `${token}-demo-${d.cache}`,
      '--redis',
      REDIS_URL,
    ],
    path: '/products/',
    fastkey: d.cache !== 'none',
    maxKeys: DEMO_PRODUCTS,
  }))
}

/** The repository lints Markdown with biome (aligned tables): the report is written as it would format it. */
function formatMarkdown(file: string): void {
  try {
    execFileSync(join(BENCH_DIR, '..', 'node_modules', '.bin', 'biome'), ['format', '--write', file], {
      stdio: 'ignore',
    })
  } catch {
    log(`could not format ${file} with biome: run \`npx biome format --write ${file}\` before committing it`)
  }
}

/** Runs one scenario; a failure is reported in RESULTS.md and the run goes on (except in smoke). */
async function scenario<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  if (!scenarios.has(name)) return undefined
  log(`${name}:`)
  try {
    return await fn()
  } catch (error) {
    if (smoke) throw error
    const message = `${name} failed: ${(error as Error).message.split('\n')[0]}`
    problems.push(message)
    log(message)
    return undefined
  }
}

/** The measured servers run the packages' built dist (see PUBLISHED_FLAGS): build them (turbo, cached). */
function buildPackages(): void {
  log('building the packages (pnpm build): measured servers run them as published')
  execFileSync('pnpm', ['run', 'build'], {
    cwd: join(BENCH_DIR, '..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

async function main(): Promise<void> {
  log(smoke ? 'smoke run: checks the harness, measures nothing worth reading' : 'full run')
  buildPackages()
  log('this machine is noisy (2 shared cores): compare ratios within one run, not absolute req/s across runs')
  let load: Loader = autocannonLoad
  let loaderNote = 'autocannon'
  if (!smoke) {
    if (ensureWrk(log)) {
      load = wrkLoad
      loaderNote = 'wrk, 1 thread'
    } else {
      loaderNote = 'autocannon (wrk unavailable: client-bound on one core here, ratios compress toward 1)'
      problems.push(
        'wrk could not be installed; autocannon was used and cannot saturate one server core here',
      )
      log(`WARNING: ${problems.at(-1)}`)
    }
  }
  const loaderVersion = loaderNote.startsWith('wrk')
    ? `wrk 4.1 (1 thread, Lua script cycling ${keyCounts.join(' / ')} paths)`
    : 'autocannon'
  const info: RunInfo = {
    startedAt: new Date(started),
    durationS: 0,
    machine: await machineInfo(loaderVersion),
    rounds: smoke ? 1 : Number(args.rounds),
    secondsPerMode: smoke ? 1 : Number(args.duration),
    warmupS: smoke ? 0 : Number(args.warmup),
    cells,
    mainCell,
    loaderNote,
    problems,
    command: smoke ? 'pnpm bench --smoke' : 'pnpm bench',
  }

  if (args.profile) {
    const profiled = args.modes?.split(',')
    const profileCluster = MODES.some((m) => m.cluster && profiled?.includes(m.name))
      ? clusterNodes(log)
      : undefined
    await profileHotPaths({
      token,
      load,
      log,
      durationS: Number(args.duration),
      connections: connectionCounts[0]!,
      keys: keyCounts,
      ...(profiled && { modes: profiled }),
      ...(profileCluster && { cluster: profileCluster.nodes }),
    }).finally(async () => {
      // The profiled servers store with the run's token, as a full run does: remove what they left.
      await cleanupRedis(token).catch(() => -1)
      if (profileCluster) await cleanupCluster(profileCluster.nodes, token).catch(() => -1)
      profileCluster?.stop()
    })
    return
  }

  const results: Results = {}
  const database =
    (scenarios.has('http') || scenarios.has('workload')) && !smoke
      ? await createDatabase(runId).catch((e: Error) => {
          problems.push(`no Postgres for the demo scenario: ${e.message}`)
          return undefined
        })
      : undefined
  const names = args.modes?.split(',')
  const wantCluster =
    !smoke && scenarios.has('http') && MODES.some((m) => m.cluster && (!names || names.includes(m.name)))
  const cluster = wantCluster ? clusterNodes(log) : undefined
  if (wantCluster && !cluster)
    problems.push('no Redis Cluster could be started: the cluster mode was not run')
  try {
    results.http = await scenario('http', async () => {
      if (args.check) {
        const failures = await checkModes(itemSpecs(names, cluster?.nodes))
        if (failures.length) throw new Error(failures.join('\n'))
        log('  every mode started and answered as expected')
      }
      const keydb = await keydbCpuReader([REDIS_URL])
      const clusterCpu = cluster
        ? await keydbCpuReader(cluster.nodes.split(',').map((n) => `redis://${n}`))
        : undefined
      info.keydbCpuHow = keydb.how
      log(`  KeyDB CPU time from ${keydb.how}`)
      try {
        if (smoke) {
          const specs = itemSpecs(['floor', 'fk-keydb'])
          return await runHttp({
            specs,
            cells,
            mainCell,
            rounds: 1,
            durationS: 1,
            warmupS: 0,
            load,
            log,
            keydbCpu: keydb.read,
          })
        }
        const specs = itemSpecs(names, cluster?.nodes)
        if (database) specs.push(...demoSpecs(database.url, names))
        return await runHttp({
          specs,
          cells,
          mainCell,
          rounds: info.rounds,
          durationS: info.secondsPerMode,
          warmupS: info.warmupS,
          load,
          log,
          serverCpu: SERVER_CPU,
          loadCpu: LOAD_CPU,
          keydbCpu: keydb.read,
          ...(clusterCpu && { clusterCpu: clusterCpu.read }),
        })
      } finally {
        keydb.close()
        clusterCpu?.close()
      }
    })
    results.workload = await scenario('workload', async () => {
      if (!database) throw new Error('the workload needs Postgres')
      return workload({
        databaseUrl: database.url,
        redisUrl: REDIS_URL,
        token,
        products: 10_000,
        durationS: Number(args['workload-seconds']),
        connections: 100,
        rps: Number(args['workload-rps']),
        log,
      })
    })
    results.rss = await scenario('rss', () =>
      rssFlatness({
        token,
        load,
        log,
        keys: maxKeys,
        connections: connectionCounts[Math.floor(connectionCounts.length / 2)]!,
        minutes: smoke ? 0.1 : Number(args['rss-minutes']),
        everyS: smoke ? 3 : 30,
        redisUrl: REDIS_URL,
        serverCpu: SERVER_CPU,
        loadCpu: LOAD_CPU,
      }),
    )
    results.stampede = await scenario('stampede', () =>
      stampede({
        processes: smoke ? [1] : [1, 3],
        requests: smoke ? 100 : 1000,
        trials: smoke ? 1 : 3,
        originMs: 50,
        runId,
        log,
        ...(smoke ? { libs: ['floor', 'fk-l1'] } : {}),
        serverCpu: SERVER_CPU,
        clientCpu: LOAD_CPU,
      }),
    )
    results.swr = await scenario('swr', () =>
      swr({
        durationS: smoke ? 1 : 6,
        ttlMs: smoke ? 300 : 1000,
        originMs: smoke ? 100 : 200,
        concurrency: 32,
        runId,
        serverCpu: SERVER_CPU,
        clientCpu: LOAD_CPU,
      }),
    )
    results.tags = await scenario('tags', () =>
      tagInvalidation({
        redisUrl: REDIS_URL,
        namespace: `${token}-tags`,
        sizes: smoke ? [10, 100] : [10, 10_000, 100_000],
        runs: smoke ? 1 : 5,
        log,
      }),
    )
    results.memory = await scenario('memory', () =>
      memoryFigure({
        redisUrl: REDIS_URL,
        namespace: `${token}-mem`,
        count: smoke ? 2_000 : 100_000,
        maxBytes: smoke ? [512 * 1024, 8 * 2 ** 20] : [16 * 2 ** 20, 64 * 2 ** 20, 256 * 2 ** 20],
        log,
      }),
    )
  } finally {
    killAll()
    await database?.drop().catch((e: Error) => log(`could not drop the bench database: ${e.message}`))
    const removed = await cleanupRedis(token).catch(() => -1)
    log(`removed ${removed} keys of this run from Redis`)
    if (cluster) {
      const fromCluster = await cleanupCluster(cluster.nodes, token).catch(() => -1)
      log(`removed ${fromCluster} keys of this run from the cluster`)
      cluster.stop()
    }
  }

  info.durationS = (Date.now() - started) / 1000
  log('targets:')
  for (const t of evaluate(results))
    log(`  ${mark(t.met)}${'metCpu' in t ? ` (CPU ${mark(t.metCpu)})` : ''} ${t.name}: ${t.figure}`)
  const md = markdown(results, info)
  const svg = chart(results, info)
  const write = !smoke && !args['no-write'] && !args.only && !args.modes && !args.workload
  const dir = write ? BENCH_DIR : join(BENCH_DIR, '.out')
  const name = smoke ? 'RESULTS.smoke.md' : 'RESULTS.md'
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, name), md)
  writeFileSync(join(dir, smoke ? 'results.smoke.svg' : 'results.svg'), svg)
  // .out/ is git-ignored, so biome skips it: only the committed report needs formatting.
  if (write) formatMarkdown(join(dir, name))
  log(`wrote ${join(dir, name)} (${info.durationS.toFixed(0)} s in all)`)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    killAll()
    process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`)
    process.exit(1)
  },
)
