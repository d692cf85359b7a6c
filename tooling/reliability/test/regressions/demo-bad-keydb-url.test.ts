// Regression scenario of issue 13 item 10 (the demo with a bad KEYDB_URL), fixed: see RELIABILITY.md.
import { freePort, redisUrl } from '@fastkey/test-services'
import { describe, expect } from 'vitest'
import { spawnDemo } from '../../src/demo-process.js'
import { testDatabase } from '../../src/postgres.js'
import { scenario } from '../../src/scenario.js'

/** A start that gets as far as listening is killed once it says so: it should not have. */
const LISTENING = /demo listening/

describe('the demo with a bad KEYDB_URL', () => {
  scenario(
    {
      id: 'demo-bad-keydb-url',
      area: 'server',
      title: 'Demo started with a bad KEYDB_URL',
      did: 'starts `apps/demo/src/server.ts` (on a Postgres database of its own) with KEYDB_URL `redis://`, `redis://host:6379/abc`, `redis://host:6379/99` (the server has 16 databases) and one whose password contains `@`',
      criterion:
        'each exits with code 1 without listening, its stderr one line starting `demo:` that names KEYDB_URL and never the password; nothing on stdout',
      timeoutMs: 120_000,
    },
    async (ctx) => {
      const { fig } = ctx
      const database = await testDatabase(ctx)
      const host = new URL(await redisUrl()).host
      const cases: Array<[string, string]> = [
        ['no host', 'redis://'],
        ['db "abc"', `redis://${host}/abc`],
        ['db 99 of 16', `redis://${host}/99`],
        ['password with "@" and port 0', 'redis://user:hunter@2@127.0.0.1:0'],
      ]
      const stderrLines: number[] = []
      for (const [name, url] of cases) {
        const demo = spawnDemo(ctx, {
          PORT: String(await freePort()),
          DATABASE_URL: database.url,
          KEYDB_URL: url,
          SEED_PRODUCTS: '0',
        })
        const listened = await demo.waitForLine(LISTENING)
        if (listened) demo.child.kill('SIGKILL')
        const { code } = await demo.exited
        const lines = demo.stderr().trim().split('\n')
        fig.requests++
        stderrLines.push(lines.length)
        if (listened) fig.violation(`${name}: the demo started and listened`)
        if (code !== 1) fig.error(`${name}: exit code ${code}`)
        if (lines.length !== 1 || !lines[0]!.startsWith('demo: ') || !lines[0]!.includes('KEYDB_URL')) {
          fig.error(`${name}: stderr was ${lines.length} line(s): ${lines.slice(0, 3).join(' | ')}`)
        }
        if (demo.stderr().includes('hunter')) fig.violation(`${name}: the password is in the output`)
        if (!listened && demo.stdout().trim() !== '')
          fig.error(`${name}: stdout ${demo.stdout().slice(0, 200)}`)
      }
      fig.set('starts', cases.length)
      fig.set('stderr lines per start (max)', Math.max(...stderrLines))

      expect(fig.details).toEqual([])
    },
  )
})
