import { execFile, execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { KEYS } from './item.js'
import { pinned, runNodeJson } from './proc.js'

const run = promisify(execFile)
const LUA = fileURLToPath(new URL('./wrk.lua', import.meta.url))
const WARM_LUA = fileURLToPath(new URL('./warm.lua', import.meta.url))

export interface LoadResult {
  requests: number
  durationS: number
  rps: number
  p50Ms: number
  p99Ms: number
  errors: number
  non2xx: number
}

export interface LoadOptions {
  url: string
  /** Path prefix; the load cycles over `<path>1` … `<path><keys>`. */
  path?: string
  keys?: number
  durationS: number
  connections: number
  cpu?: number
}

export type Loader = (options: LoadOptions) => Promise<LoadResult>

export function haveWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (error) {
    // wrk --version exits 1 after printing its banner; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}

/** Installs wrk from Debian's packages when missing (the bench's one setup step). */
export function ensureWrk(log: (line: string) => void): boolean {
  if (haveWrk()) return true
  log('wrk is missing: installing it from Debian packages (apt-get install -y wrk)')
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore', timeout: 120_000 })
  } catch {
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 180_000 })
      execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore', timeout: 120_000 })
    } catch {
      // Not root, no network: the autocannon fallback takes over.
    }
  }
  return haveWrk()
}

export const wrkLoad: Loader = async (o) => {
  const [cmd, argv] = pinned(o.cpu, [
    'wrk',
    '-t1',
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    '--timeout',
    '5s',
    '-s',
    LUA,
    o.url,
  ])
  const { stdout } = await run(cmd, argv, {
    env: { ...process.env, BENCH_PATH: o.path ?? '/item/', BENCH_KEYS: String(o.keys ?? KEYS) },
    timeout: (o.durationS + 30) * 1000,
  })
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`)
  const s = JSON.parse(line.slice('BENCH_JSON '.length)) as Record<string, number>
  const durationS = s.durationUs! / 1e6
  return {
    requests: s.requests!,
    durationS,
    rps: s.requests! / durationS,
    p50Ms: s.p50Us! / 1000,
    p99Ms: s.p99Us! / 1000,
    errors: s.errors!,
    non2xx: s.non2xx!,
  }
}

/** The fallback: autocannon in a child process pinned like wrk (it is client-bound on one core here). */
export const autocannonLoad: Loader = (o) =>
  runNodeJson<LoadResult>(
    'src/autocannon-client.ts',
    [
      JSON.stringify({
        url: o.url,
        path: o.path ?? '/item/',
        keys: o.keys ?? KEYS,
        durationS: o.durationS,
        connections: o.connections,
      }),
    ],
    o.cpu === undefined ? {} : { cpu: o.cpu },
  )

/**
 * Pre-warm with wrk: ids 1..keys requested in order, each once (warm.lua stops the thread after
 * `keys` answers). Resolves the answers that were not 2xx.
 */
export async function wrkWarm(o: {
  url: string
  path: string
  keys: number
  connections: number
  cpu?: number
  /** The Host header to send (the route key includes it). */
  host?: string
}) {
  const [cmd, argv] = pinned(o.cpu, [
    'wrk',
    '-t1',
    `-c${Math.min(o.connections, o.keys)}`,
    '-d120s',
    '--timeout',
    '10s',
    '-s',
    WARM_LUA,
    o.url,
  ])
  const { stdout } = await run(cmd, argv, {
    env: {
      ...process.env,
      BENCH_PATH: o.path,
      BENCH_KEYS: String(o.keys),
      ...(o.host !== undefined && { BENCH_HOST: o.host }),
    },
    timeout: 150_000,
  })
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`)
  return JSON.parse(line.slice('BENCH_JSON '.length)) as { requests: number; non2xx: number }
}
