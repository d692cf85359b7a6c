import { binaryKind, redisUrl, sharedServerKind } from '@fastkey/test-services'
import { describe, expect, onTestFinished, test } from 'vitest'
import { appWith, eventually, measured, throwawayServer, timed } from './helpers.js'

const MARGIN_MS = 1_000

describe('health()', () => {
  test('ok against a live server, with latency and server kind', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    const health = await app.keydb.health()
    expect(health).toMatchObject({ ok: true, server: await sharedServerKind() })
    expect(health.latencyMs).toBeGreaterThanOrEqual(0)
    expect(health.error).toBeUndefined()
  })

  test('ok: false within the deadline against a frozen (SIGSTOP) server', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url, commandTimeoutMs: 5_000 })
    await server.pause()
    onTestFinished(() => server.resume())
    const timeoutMs = 200
    const { ms, value } = await timed(() => app.keydb.health({ timeoutMs }))
    measured(`health() on a frozen server (timeoutMs ${timeoutMs})`, ms)
    expect(value).toMatchObject({ ok: false, server: binaryKind() })
    expect(value?.error).toMatch(/200 ms/)
    expect(ms).toBeLessThan(timeoutMs + MARGIN_MS)
  })

  test('defaults its deadline to commandTimeoutMs', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url, commandTimeoutMs: 150 })
    await server.pause()
    onTestFinished(() => server.resume())
    const { ms, value } = await timed(() => app.keydb.health())
    expect(value?.ok).toBe(false)
    expect(ms).toBeLessThan(150 + MARGIN_MS)
  })

  test('ok: false at once against a killed server', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    await server.kill()
    await eventually(() => app.keydb.status !== 'ready', 2_000)
    const { ms, value } = await timed(() => app.keydb.health({ timeoutMs: 1_000 }))
    measured('health() on a killed server', ms)
    expect(value).toMatchObject({ ok: false })
    expect(value?.error).toEqual(expect.any(String))
    expect(ms).toBeLessThan(500)
  })

  test('never throws: after close, and with a bad timeoutMs', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    expect(await app.keydb.health({ timeoutMs: -1 })).toMatchObject({ ok: false, error: expect.any(String) })
    await app.close()
    expect(await app.keydb.health()).toMatchObject({ ok: false, error: expect.any(String) })
  })
})
