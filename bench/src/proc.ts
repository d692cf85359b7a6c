import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url))
/** Node flags of the harness's own children: workspace packages from source, TypeScript through tsx. */
export const NODE_FLAGS = ['--conditions=@fastkey/source', '--import', 'tsx']
/**
 * Node flags of a measured server: the packages as published (their built dist, as users run them);
 * only the bench's own server file goes through tsx. From source, tsx's name-keeping wrapper around
 * every closure made per request cost ~4-5 % of a hit's CPU, which the peers (plain JavaScript from
 * npm) do not pay. The demo app exists only as source: its modes keep NODE_FLAGS.
 */
export const PUBLISHED_FLAGS = ['--import', 'tsx']

function flagsFor(args: readonly string[]): string[] {
  // FASTKEY_BENCH_SOURCE=1: every server from source, to compare with a checkout whose bench did so.
  if (process.env.FASTKEY_BENCH_SOURCE === '1') return NODE_FLAGS
  const at = args.indexOf('--mode')
  const mode = at >= 0 ? (args[at + 1] ?? '') : ''
  return mode === 'demo' || mode.startsWith('demo-') ? NODE_FLAGS : PUBLISHED_FLAGS
}

const CLK_TCK = 100 // Linux USER_HZ: /proc stat times are in 1/100 s.

export interface ServerProcess {
  name: string
  pid: number
  port: number
  url: string
  child: ChildProcess
  stop(): Promise<void>
}

/** A server that could not start because the package it needs is not built yet. */
export class PendingMode extends Error {}

const live = new Set<ChildProcess>()

/** Kills (by pid) every child still running: on exit, Ctrl-C or a failure. */
export function killAll(): void {
  for (const child of live) if (child.exitCode === null) child.kill('SIGKILL')
  live.clear()
}

/** Runs `argv` under `taskset -c <cpu>` when a CPU is given (taskset execs, so the pid is the program's). */
export function pinned(cpu: number | undefined, argv: string[]): [string, string[]] {
  if (cpu === undefined) return [argv[0]!, argv.slice(1)]
  return ['taskset', ['-c', String(cpu), ...argv]]
}

export async function startServer(
  name: string,
  args: string[],
  options: { cpu?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number; extraNodeFlags?: string[] } = {},
): Promise<ServerProcess> {
  const [cmd, argv] = pinned(options.cpu, [
    process.execPath,
    ...flagsFor(args),
    ...(options.extraNodeFlags ?? []),
    'src/server.ts',
    ...args,
  ])
  const child = spawn(cmd, argv, {
    cwd: BENCH_DIR,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const lines = createInterface({ input: child.stdout! })
  const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name}: no ready line after ${options.timeoutMs ?? 60_000} ms\n${stderr}`)),
      options.timeoutMs ?? 60_000,
    )
    lines.once('line', (line) => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(line) as Record<string, unknown>)
      } catch {
        reject(new Error(`${name}: unexpected output ${line}\n${stderr}`))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name}: exited with ${code} before ready\n${stderr}`))
    })
  })
  if (typeof first.pending === 'string') {
    live.delete(child)
    throw new PendingMode(first.pending)
  }
  if (typeof first.ready !== 'number') {
    child.kill('SIGKILL')
    throw new Error(`${name}: ${String(first.failed ?? JSON.stringify(first))}`)
  }
  const port = first.ready
  return {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () => stopChild(child),
  }
}

export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  live.delete(child)
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** CPU time (user + system) the process has used so far, µs, from /proc/<pid>/stat. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1_000_000) / CLK_TCK
}

/** Runs a node script of the bench as a child (optionally pinned) and returns its last JSON line. */
export async function runNodeJson<T>(
  script: string,
  args: string[],
  options: { cpu?: number; nodeFlags?: string[]; timeoutMs?: number } = {},
): Promise<T> {
  const [cmd, argv] = pinned(options.cpu, [
    process.execPath,
    ...NODE_FLAGS,
    ...(options.nodeFlags ?? []),
    script,
    ...args,
  ])
  const child = spawn(cmd, argv, { cwd: BENCH_DIR, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000)
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  live.delete(child)
  const last = out.trim().split('\n').pop() ?? ''
  if (code !== 0) throw new Error(`${script} exited with ${code}: ${err || last}`)
  return JSON.parse(last) as T
}
