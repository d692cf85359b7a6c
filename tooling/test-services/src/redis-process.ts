import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { portAnswers } from './resolve.js'

/** A throwaway `redis-server` on a free loopback port, for fault-injection tests. */
export interface RedisProcess {
  readonly port: number
  readonly url: string
  /** True between start/restart and stop/kill. */
  readonly running: boolean
  /** Graceful stop (SIGTERM) and wait for exit. */
  stop(): Promise<void>
  /** SIGKILL: the server vanishes mid-command, connections are reset. */
  kill(): Promise<void>
  /** SIGSTOP: the server freezes; connections stay open and commands hang. */
  pause(): void
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
  /** Path of the binary; default `REDIS_SERVER_BIN` or `redis-server` on PATH. */
  binary?: string
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
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server'
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
    pause() {
      if (child && !paused) {
        child.kill('SIGSTOP')
        paused = true
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
