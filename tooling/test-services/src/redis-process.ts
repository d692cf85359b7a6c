import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { portAnswers } from './resolve.js'

/** A throwaway `redis-server` (or `REDIS_SERVER_BIN`) on a free loopback port, for fault-injection tests. */
export interface RedisProcess {
  readonly port: number
  readonly url: string
  /** True between start/restart and stop/kill. */
  readonly running: boolean
  /** Graceful stop (SIGTERM) and wait for exit. */
  stop(): Promise<void>
  /** SIGKILL: the server vanishes mid-command, connections are reset. */
  kill(): Promise<void>
  /**
   * SIGSTOP: the server freezes; connections stay open and commands hang. Resolves once every thread
   * of the server is stopped (a multi-threaded KeyDB stops its threads one by one and answered a PING
   * sent right after the signal 6 times in 20); rejects when they are not all stopped within 2 s.
   */
  pause(): Promise<void>
  /** SIGCONT after pause(). */
  resume(): void
  /** Start again on the same port (after stop or kill). */
  restart(): Promise<void>
}

export interface StartRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '1mb']`. */
  args?: string[]
  /** Fixed port; default a free one. */
  port?: number
  /** Path of the binary; default {@link redisServerBinary}. */
  binary?: string
}

/** The server binary throwaway servers run: `REDIS_SERVER_BIN` (e.g. a keydb-server) or `redis-server`. */
export function redisServerBinary(): string {
  return process.env.REDIS_SERVER_BIN || 'redis-server'
}

const PAUSE_TIMEOUT_MS = 2_000
// T: stopped by the signal; t: stopped under a tracer; Z, X: a thread that exited (cannot answer either).
const STOPPED_STATES = new Set(['T', 't', 'Z', 'X'])

/**
 * The scheduler state of each thread of `pid` (`R`, `S`, `T` for stopped, ...), from
 * `/proc/<pid>/task/<tid>/stat`; undefined where there is no /proc (not Linux). A thread that exits
 * while we read is left out.
 */
export function threadStates(pid: number): Map<number, string> | undefined {
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return undefined
  }
  const states = new Map<number, string>()
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      // "tid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
      states.set(Number(tid), stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
    } catch {}
  }
  return states
}

async function waitUntilStopped(pid: number): Promise<void> {
  const deadline = Date.now() + PAUSE_TIMEOUT_MS
  for (;;) {
    const states = threadStates(pid)
    // Without /proc (not Linux) the threads cannot be read: nothing to wait for.
    if (!states) return
    const running = [...states].filter(([, state]) => !STOPPED_STATES.has(state))
    if (running.length === 0) return
    if (Date.now() >= deadline) {
      const list = running.map(([tid, state]) => `${tid}:${state}`).join(', ')
      throw new Error(`server pid ${pid}: threads not stopped ${PAUSE_TIMEOUT_MS} ms after SIGSTOP (${list})`)
    }
    await new Promise((r) => setTimeout(r, 1))
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

// Servers still running when the test process exits are killed, so none outlives its test run.
const liveChildren = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL')
})

export async function startRedisServer(options: StartRedisOptions = {}): Promise<RedisProcess> {
  const port = options.port ?? (await freePort())
  const binary = options.binary ?? redisServerBinary()
  const dir = mkdtempSync(join(tmpdir(), 'fastkey-redis-'))
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let paused = false

  const launch = async () => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ]
    args.push(...(options.args ?? []))
    const proc = spawn(binary, args, { stdio: 'ignore' })
    child = proc
    liveChildren.add(proc)
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        liveChildren.delete(proc)
        resolve()
      }),
    )
    proc.once('error', () => {})
    await waitFor(() => portAnswers(port), 5_000, `redis-server on port ${port}`)
  }

  const signalAndWait = async (signal: NodeJS.Signals) => {
    const proc = child
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    if (paused) {
      proc.kill('SIGCONT')
      paused = false
    }
    proc.kill(signal)
    await exited
    child = undefined
  }

  const handle: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    async stop() {
      await signalAndWait('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
    async kill() {
      await signalAndWait('SIGKILL')
    },
    async pause() {
      if (child && !paused && child.pid !== undefined) {
        child.kill('SIGSTOP')
        paused = true
        await waitUntilStopped(child.pid)
      }
    },
    resume() {
      if (child && paused) {
        child.kill('SIGCONT')
        paused = false
      }
    },
    async restart() {
      await signalAndWait('SIGKILL')
      await launch()
    },
  }
  await launch()
  return handle
}
