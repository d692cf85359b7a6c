import { redisUrl } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { fastifyKeydb } from '../src/index.js'
import { appWith, buildApp, eventually, measured, throwawayServer, timed } from './helpers.js'

const CLOSE_BOUND_MS = 2_000

describe('closing', () => {
  test('close quits the client and its subscriber', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    const client = app.keydb
    const subscriber = app.keydb.subscriber()
    await subscriber.subscribe('fk-close-test')
    await app.close()
    expect(client.status).toBe('end')
    expect(subscriber.status).toBe('end')
  })

  test('closing twice does not throw', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    await app.close()
    await expect(app.close()).resolves.toBeUndefined()
    expect(app.keydb.status).toBe('end')
  })

  test('closing while disconnected resolves at once and stops reconnecting', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    await server.kill()
    await eventually(() => app.keydb.status === 'reconnecting', 2_000)
    const { ms, error } = await timed(() => app.close())
    measured('close while disconnected', ms)
    expect(error).toBeUndefined()
    expect(ms).toBeLessThan(CLOSE_BOUND_MS)
    // Had the reconnect loop survived, it would get through once the server is back.
    await server.restart()
    await new Promise((resolve) => setTimeout(resolve, 2_200))
    expect(app.keydb.status).not.toBe('ready')
  })

  test('closing with a frozen (SIGSTOP) server resolves within 2 s', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    const subscriber = app.keydb.subscriber()
    await subscriber.subscribe('fk-frozen')
    await server.pause()
    onTestFinished(() => server.resume())
    const { ms, error } = await timed(() => app.close())
    measured('close with a frozen server (client + subscriber)', ms)
    expect(error).toBeUndefined()
    expect(ms).toBeLessThan(CLOSE_BOUND_MS)
    expect(app.keydb.status).toBe('end')
    expect(subscriber.status).toBe('end')
  })

  test('closing after a boot without the server resolves quickly', async () => {
    const server = await throwawayServer()
    await server.kill()
    const { app } = buildApp()
    app.register(fastifyKeydb, { url: server.url, connectTimeoutMs: 200 })
    await app.ready()
    const { ms, error } = await timed(() => app.close())
    expect(error).toBeUndefined()
    expect(ms).toBeLessThan(CLOSE_BOUND_MS)
  })

  test('an injected client keeps working after close; the subscriber made for it is closed', async () => {
    const client = new Redis(await redisUrl())
    onTestFinished(() => client.disconnect())
    const { app } = await appWith({ client })
    const subscriber = app.keydb.subscriber()
    await app.close()
    expect(subscriber.status).toBe('end')
    expect(await client.ping()).toBe('PONG')
    expect(client.listenerCount('error')).toBe(0)
  })

  test('an injected client with closeClient: true is closed even when its server is frozen', async () => {
    const server = await throwawayServer()
    const client = new Redis(server.url)
    onTestFinished(() => client.disconnect())
    const { app } = await appWith({ client, closeClient: true })
    await server.pause()
    onTestFinished(() => server.resume())
    const { ms } = await timed(() => app.close())
    expect(ms).toBeLessThan(CLOSE_BOUND_MS)
    expect(client.status).toBe('end')
  })
})
