/**
 * `pnpm --filter @fastkey/reliability report`: runs the reliability scenarios (the
 * `@fastkey/reliability` vitest project) and writes RELIABILITY.md at the repository root from their
 * results. `--no-run` rebuilds the file from the results of the last run. Exits with vitest's code.
 */
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { databaseUrl, redisServerBinary } from '@fastkey/test-services'
import postgres from 'postgres'
import { ordered, renderReport } from './report.js'
import { clearResults, readResults } from './results.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const REPORT = `${ROOT}RELIABILITY.md`

function runVitest(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('pnpm', ['exec', 'vitest', 'run', '--project', '@fastkey/reliability'], {
      cwd: ROOT,
      stdio: 'inherit',
    })
    child.on('exit', (code) => resolve(code ?? 1))
  })
}

function tryText(run: () => string): string {
  try {
    return run().trim()
  } catch {
    return 'unknown'
  }
}

async function environment(load: number[]): Promise<string[]> {
  const redis = tryText(() => execFileSync(redisServerBinary(), ['--version'], { encoding: 'utf8' }))
  let pg = 'unknown'
  try {
    const sql = postgres(await databaseUrl(), { max: 1, onnotice: () => {} })
    pg = String((await sql`show server_version`)[0]?.server_version)
    await sql.end({ timeout: 1 })
  } catch {}
  return [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; load average when the run started: ${load.map((l) => l.toFixed(1)).join(' / ')} (1 / 5 / 15 min; the machine is shared)`,
    `Node ${process.version}; ${redis.replace(/ sha=.*/, '')} (throwaway servers and the cluster; KeyDB speaks the Redis 6.2 command set and the scenarios use only that); PostgreSQL ${pg}`,
  ]
}

async function main(): Promise<void> {
  const noRun = process.argv.includes('--no-run')
  const load = os.loadavg()
  let code = 0
  let runMs: number | undefined
  if (!noRun) {
    clearResults()
    const started = performance.now()
    code = await runVitest()
    runMs = performance.now() - started
  }
  const results = ordered(readResults())
  const markdown = renderReport(results, {
    generatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: 'pnpm --filter @fastkey/reliability report',
    runMs,
    environment: await environment(load),
  })
  writeFileSync(REPORT, markdown)
  console.log(`\n${REPORT}: ${results.length} scenarios${runMs ? ` in ${Math.round(runMs / 1000)} s` : ''}`)
  process.exitCode = code
}

await main()
