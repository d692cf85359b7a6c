import { binaryKind, freePort, startRedisServer } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  failFastRedisOptions,
  fastifyKeydb,
  RECONNECT_MAX_DELAY_MS,
} from '../src/index.js'
import { appWith, buildApp, eventually, measured, throwawayServer, timed } from './helpers.js'

// Deadlines are asserted with generous margins: the machine is small and shared.
const MARGIN_MS = 1_000

describe('fail-fast defaults against a throwaway server', () => {
  test('a command against a killed server fails at once instead of queueing', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    await server.kill()
    await eventually(() => app.keydb.status !== 'ready', 2_000)
    const { ms, error } = await timed(() => app.keydb.get('k'))
    measured('GET on a killed server', ms)
    expect(error).toBeInstanceOf(Error)
    expect(ms).toBeLessThan(DEFAULT_COMMAND_TIMEOUT_MS)
  })

  test('a command in flight when the server dies fails without waiting for a reconnect', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    // SIGKILL the frozen process directly: the helper's kill() would resume it first, and the server
    // could then answer before it dies.
    const pid = Number(/process_id:(\d+)/.exec(await app.keydb.info('server'))?.[1])
    await server.pause()
    const pending = timed(() => app.keydb.get('k'))
    await new Promise((resolve) => setTimeout(resolve, 50))
    process.kill(pid, 'SIGKILL')
    const { ms, error } = await pending
    measured('GET in flight while the server is killed (incl. 50 ms before the kill)', ms)
    expect(error).toBeInstanceOf(Error)
    expect(error?.message).not.toMatch(/timed out/i)
    expect(ms).toBeLessThan(DEFAULT_COMMAND_TIMEOUT_MS)
  })

  test('a command against a frozen (SIGSTOP) server fails after commandTimeoutMs', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    await server.pause()
    onTestFinished(() => server.resume())
    const { ms, error } = await timed(() => app.keydb.get('k'))
    measured(`GET on a frozen server (commandTimeoutMs ${DEFAULT_COMMAND_TIMEOUT_MS})`, ms)
    expect(error?.message).toMatch(/timed out/i)
    expect(ms).toBeLessThan(DEFAULT_COMMAND_TIMEOUT_MS + MARGIN_MS)
  })

  test('boot with the server down: ready in time, one warning, fast failures, then recovery', async () => {
    const server = await throwawayServer()
    await server.kill()
    const connectTimeoutMs = 300
    const { app, warnings, logs } = buildApp()
    app.register(fastifyKeydb, { url: server.url, connectTimeoutMs })
    const boot = await timed(() => app.ready())
    measured(`app.ready() with the server down (connectTimeoutMs ${connectTimeoutMs})`, boot.ms)
    expect(boot.error).toBeUndefined()
    expect(boot.ms).toBeLessThan(connectTimeoutMs + MARGIN_MS)
    expect(app.keydb.capabilities).toMatchObject({ ready: false, server: 'unknown' })

    const down = await timed(() => app.keydb.set('k', 'v'))
    measured('SET while the server is down', down.ms)
    expect(down.error).toBeInstanceOf(Error)
    expect(down.ms).toBeLessThan(DEFAULT_COMMAND_TIMEOUT_MS)
    expect((await app.keydb.health({ timeoutMs: 200 })).ok).toBe(false)

    // Let several reconnect attempts fail: still one warning only.
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]?.msg).toContain(`127.0.0.1:${server.port}`)

    await server.restart()
    const back = await timed(() =>
      eventually(() => app.keydb.status === 'ready', RECONNECT_MAX_DELAY_MS + MARGIN_MS),
    )
    measured('reconnect after the server restarts', back.ms)
    expect(back.value).toBe(true)
    await app.keydb.set('k', 'v')
    expect(await app.keydb.get('k')).toBe('v')
    expect(await eventually(() => app.keydb.capabilities.server === binaryKind(), 1_000)).toBe(true)
    expect(warnings()).toHaveLength(1)
    expect(logs.some((line) => /ready again/.test(line.msg))).toBe(true)
  })

  test('a connection lost after boot logs one warning per outage and one line on recovery', async () => {
    const server = await throwawayServer()
    const { app, warnings, logs } = await appWith({ url: server.url })
    await server.kill()
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(warnings()).toHaveLength(1)
    await server.restart()
    expect(await eventually(() => app.keydb.status === 'ready', RECONNECT_MAX_DELAY_MS + MARGIN_MS)).toBe(
      true,
    )
    expect(logs.filter((line) => /ready again/.test(line.msg))).toHaveLength(1)
    await server.kill()
    expect(await eventually(() => warnings().length === 2, 2_000)).toBe(true)
  })

  test('requireOnBoot: true against a dead port fails registration quickly with a coded error', async () => {
    const port = await freePort()
    const connectTimeoutMs = 300
    const { app } = buildApp()
    app.register(fastifyKeydb, { url: `redis://127.0.0.1:${port}`, requireOnBoot: true, connectTimeoutMs })
    const { ms, error } = await timed(() => app.ready())
    measured(`requireOnBoot failure (connectTimeoutMs ${connectTimeoutMs})`, ms)
    expect(error?.code).toBe('FST_KEYDB_CONNECT_FAILED')
    expect(error?.message).toContain(`127.0.0.1:${port}`)
    expect(ms).toBeLessThan(connectTimeoutMs + MARGIN_MS)
  })

  test('requireOnBoot: true closes the client it created', async () => {
    const server = await startRedisServer()
    onTestFinished(() => server.stop())
    await server.kill()
    const { app } = buildApp()
    app.register(fastifyKeydb, { url: server.url, requireOnBoot: true, connectTimeoutMs: 200 })
    await expect(app.ready()).rejects.toMatchObject({ code: 'FST_KEYDB_CONNECT_FAILED' })
    // Once the server is back, no leftover client from the failed registration connects to it.
    await server.restart()
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MAX_DELAY_MS + 200))
    expect(await countClients(server.url)).toBe(1)
  })

  test('an injected client built with failFastRedisOptions() fails fast too', async () => {
    const server = await throwawayServer()
    const client = new Redis(server.url, failFastRedisOptions())
    onTestFinished(() => client.disconnect())
    const { app } = await appWith({ client })
    await server.kill()
    await eventually(() => app.keydb.status !== 'ready', 2_000)
    const { ms, error } = await timed(() => app.keydb.get('k'))
    expect(error).toBeInstanceOf(Error)
    expect(ms).toBeLessThan(DEFAULT_COMMAND_TIMEOUT_MS)
  })

  test('requireOnBoot: true succeeds when the server answers', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url, requireOnBoot: true })
    expect(app.keydb.status).toBe('ready')
  })
})

/** Connected clients of a server, counting the connection that asks. */
async function countClients(url: string): Promise<number> {
  const probe = new Redis(url)
  try {
    const list = await probe.client('LIST')
    return String(list).trim().split('\n').length
  } finally {
    probe.disconnect()
  }
}
