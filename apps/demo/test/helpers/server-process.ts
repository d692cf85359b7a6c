import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'

const DEMO_DIR = fileURLToPath(new URL('../..', import.meta.url))
/** Variables the server reads: the test decides each one, nothing leaks in from the runner. */
const SERVER_VARIABLES = ['PORT', 'DATABASE_URL', 'KEYDB_URL', 'PGLITE_DIR', 'SEED_PRODUCTS', 'LOG_LEVEL']

export interface ServerProcess {
  child: ChildProcess
  stdoutLines: string[]
  stderr(): string
  /** Resolves with the first stdout line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Runs src/server.ts as `pnpm start` does (tsx, sources through the @fastkey/source condition). */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env }
  for (const name of SERVER_VARIABLES) delete childEnv[name]
  const child = spawn(
    process.execPath,
    ['--conditions=@fastkey/source', '--import', 'tsx', 'src/server.ts'],
    {
      cwd: DEMO_DIR,
      env: { ...childEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const stdoutLines: string[] = []
  let partial = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    stdoutLines.push(...parts)
    for (const wake of waiters) wake()
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const waitForLine = (pattern: RegExp, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = stdoutLines.find((candidate) => pattern.test(candidate))
        if (line !== undefined) finish(() => resolve(line))
      }
      const finish = (settle: () => void) => {
        clearTimeout(timer)
        waiters.delete(check)
        settle()
      }
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms; stderr: ${stderr}`)),
          ),
        timeoutMs,
      )
      waiters.add(check)
      exited.then(({ code }) => finish(() => reject(new Error(`server exited with ${code}: ${stderr}`))))
      check()
    })
  return { child, stdoutLines, stderr: () => stderr, waitForLine, exited }
}
