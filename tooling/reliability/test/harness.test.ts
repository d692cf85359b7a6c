import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { History } from '../src/history.js'
import { runScenario, type ScenarioSpec } from '../src/scenario.js'

const spec: ScenarioSpec = {
  id: 'harness',
  area: 'faults',
  title: 'harness self-test',
  did: '',
  criterion: '',
}
const quiet = { record: false, settleMs: 200 }

describe('the harness catches what every scenario must not do', () => {
  it('the history checker flags a read of old data after an invalidation resolved, and only that', async () => {
    let tick = 0
    const history = new History(() => ++tick)
    let version = 1
    const slowRead = history.read('k', 'overlapping', async () => {
      await Promise.resolve()
      return 1
    })
    await history.invalidate(
      'k',
      () => ++version,
      async () => {},
    )
    await slowRead
    await history.read('k', 'after', async () => 1)
    await history.read('k', 'fresh', async () => 2)
    await history.read('k', 'miss', async () => undefined)
    const violations = history.violations()
    expect(violations).toHaveLength(1)
    expect(violations[0]).toContain('after read k v1')
  })

  it('a timer or a server left open fails the scenario', async () => {
    let timer: NodeJS.Timeout | undefined
    await expect(
      runScenario(
        spec,
        async () => {
          timer = setInterval(() => {}, 1_000).unref()
        },
        quiet,
      ),
    ).rejects.toThrow(/left running: timer ×1/)
    clearInterval(timer)
    let server: net.Server | undefined
    await expect(
      runScenario(
        spec,
        async () => {
          server = net.createServer().listen(0, '127.0.0.1')
          await new Promise((r) => server!.once('listening', r))
        },
        quiet,
      ),
    ).rejects.toThrow(/left running: TCPServerWrap ×1/)
    server?.close()
  })

  it('a blocked event loop fails the scenario', async () => {
    await expect(
      runScenario(
        spec,
        async () => {
          await new Promise((r) => setTimeout(r, 30))
          // 150 ms of this process's CPU, not of wall time: on a loaded machine a wall-clock loop gets
          // only a share of a core, and the monitor rightly counts only the CPU this process used.
          const until = cpuMs() + 150
          while (cpuMs() < until) {}
          await new Promise((r) => setTimeout(r, 30))
        },
        quiet,
      ),
    ).rejects.toThrow(/event-loop blocked/)
  })

  it('a throwaway server is stopped at the end, and a scenario within the rules passes', async () => {
    let port = 0
    await runScenario(
      spec,
      async (ctx) => {
        const server = await ctx.redis()
        port = server.port
        await server.kill()
        await server.restart()
      },
      quiet,
    )
    const { portAnswers } = await import('@fastkey/test-services')
    expect(await portAnswers(port)).toBe(false)
  })
})

function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}
