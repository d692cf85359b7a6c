import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ScenarioContext } from './scenario.js'

const DEMO_DIR = fileURLToPath(new URL('../../../apps/demo/', import.meta.url))
/** What the demo reads from the environment: each scenario decides, nothing leaks in from the runner. */
const DEMO_VARIABLES = ['PORT', 'DATABASE_URL', 'KEYDB_URL', 'PGLITE_DIR', 'SEED_PRODUCTS', 'LOG_LEVEL']

export interface DemoProcess {
  readonly child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves once stdout has a line matching `pattern` (true), or the process exited first (false). */
  waitForLine(pattern: RegExp): Promise<boolean>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * The demo's `src/server.ts` in a child process, started the way its container does (node with tsx,
 * workspace sources): what an operator sees on stdout and stderr. Killed and awaited when the scenario
 * ends.
 */
export function spawnDemo(ctx: ScenarioContext, env: Record<string, string>): DemoProcess {
  const base: NodeJS.ProcessEnv = { ...process.env }
  for (const name of DEMO_VARIABLES) delete base[name]
  const child = spawn(
    process.execPath,
    ['--conditions=@fastkey/source', '--import', 'tsx', 'src/server.ts'],
    {
      cwd: DEMO_DIR,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  const wakers = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const wake of wakers) wake()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  ctx.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const waitForLine = (pattern: RegExp) =>
    new Promise<boolean>((resolve) => {
      const check = () => {
        if (!stdout.split('\n').some((line) => pattern.test(line))) return
        wakers.delete(check)
        resolve(true)
      }
      wakers.add(check)
      void exited.then(() => {
        wakers.delete(check)
        resolve(stdout.split('\n').some((line) => pattern.test(line)))
      })
      check()
    })
  return { child, stdout: () => stdout, stderr: () => stderr, waitForLine, exited }
}
