// Regression scenario of issue 13 ("also fix": the demo container ran `pnpm start`, which does not
// forward SIGTERM), fixed: see RELIABILITY.md.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, portAnswers } from '@fastkey/test-services'
import { describe, expect } from 'vitest'
import { sleep, waitUntil } from '../../src/load.js'
import { scenario } from '../../src/scenario.js'

const REPO = fileURLToPath(new URL('../../../../', import.meta.url))
const DOCKERFILE = join(REPO, 'docker/demo.Dockerfile')
/** The image's WORKDIR of the sources, mapped onto this checkout. */
const IMAGE_REPO = '/repo'

/** The last WORKDIR and the exec-form CMD of the Dockerfile: what `docker run` starts. */
function containerCommand(): { cwd: string; argv: string[] } {
  const lines = readFileSync(DOCKERFILE, 'utf8').split('\n')
  const workdir = lines
    .filter((l) => l.startsWith('WORKDIR '))
    .at(-1)!
    .slice('WORKDIR '.length)
    .trim()
  const cmd = lines
    .filter((l) => l.startsWith('CMD '))
    .at(-1)!
    .slice('CMD '.length)
  return { cwd: join(REPO, workdir.replace(IMAGE_REPO, '')), argv: JSON.parse(cmd) as string[] }
}

/** Processes of this user whose environment has `marker` (the server the command started, at any depth). */
function processesWith(marker: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker))
        found.push(Number(entry))
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return found
}

describe('the demo container stops on SIGTERM', () => {
  scenario(
    {
      id: 'demo-container-sigterm',
      area: 'server',
      title: 'Demo container command on SIGTERM',
      did: "runs the CMD of `docker/demo.Dockerfile` (from its WORKDIR, mapped onto this checkout) as the container's main process, waits for the startup line, sends that process SIGTERM",
      criterion:
        'the server logs its graceful shutdown, the process exits with code 0 within 10 s, and no process of it is left running (nothing still listening on its port)',
      timeoutMs: 90_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const { cwd, argv } = containerCommand()
      const port = await freePort()
      const marker = `FASTKEY_SIGTERM_SCENARIO=${port}`
      const child = spawn(argv[0]!, argv.slice(1), {
        cwd,
        env: {
          ...process.env,
          PORT: String(port),
          SEED_PRODUCTS: '0',
          LOG_LEVEL: 'info',
          [marker.split('=')[0]!]: String(port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      const collect = (chunk: string) => {
        output += chunk
      }
      child.stdout.setEncoding('utf8').on('data', collect)
      child.stderr.setEncoding('utf8').on('data', collect)
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      )
      ctx.defer(async () => {
        // Whatever the outcome, nothing this scenario started survives it.
        for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL')
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        await exited
      })
      const started = await waitUntil(() => output.includes('demo listening'), 60_000, 50)
      expect(started, output).toBeDefined()

      const signalled = performance.now()
      child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const tooLate = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 10_000)
      })
      const outcome = await Promise.race([exited, tooLate])
      clearTimeout(timer)
      const stopMs = performance.now() - signalled
      await sleep(500)
      const leftOver = processesWith(marker).length
      const stillListening = await portAnswers(port)

      fig.set('command', argv.join(' '))
      fig.set('exit', outcome ? `code ${outcome.code} signal ${outcome.signal}` : 'none within 10 s')
      fig.set('stopped after, ms', stopMs)
      fig.set('graceful shutdown logged', output.includes('shutting down'))
      fig.set('processes left running', leftOver)
      fig.set('port still listening', stillListening)
      if (leftOver > 0 || stillListening)
        fig.violation(`${leftOver} process(es) left running after the main one exited`)

      expect(fig.details).toEqual([])
      expect(outcome).toEqual({ code: 0, signal: null })
      expect(output).toContain('shutting down')
    },
  )
})
