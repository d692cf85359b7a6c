import { redisUrl, sharedServerKind } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { fastifyKeydb } from '../src/index.js'
import { appWith, buildApp } from './helpers.js'

describe('connecting', () => {
  test('by url: fastify.keydb is the ioredis client, ready when the app is', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    expect(app.keydb).toBeInstanceOf(Redis)
    expect(app.keydb.status).toBe('ready')
    expect(await app.keydb.ping()).toBe('PONG')
  })

  test('by ioredis options (host, port, db passed through)', async () => {
    const { hostname, port } = new URL(await redisUrl())
    const { app } = await appWith({ host: hostname, port: Number(port || 6379), db: 3 })
    expect(app.keydb.options.db).toBe(3)
    expect(await app.keydb.client('INFO')).toMatch(/db=3/)
  })

  test('the fail-fast defaults are applied and user ioredis options override them', async () => {
    const url = await redisUrl()
    const { app } = await appWith({ url, maxRetriesPerRequest: 2, connectionName: 'fk-test' })
    expect(app.keydb.options).toMatchObject({
      enableOfflineQueue: false,
      commandTimeout: 500,
      connectTimeout: 1500,
      disableClientInfo: true,
      maxRetriesPerRequest: 2,
      connectionName: 'fk-test',
    })
  })

  test('commandTimeoutMs and connectTimeoutMs set the ioredis timeouts', async () => {
    const { app } = await appWith({ url: await redisUrl(), commandTimeoutMs: 123, connectTimeoutMs: 456 })
    expect(app.keydb.options).toMatchObject({ commandTimeout: 123, connectTimeout: 456 })
  })

  test('two namespaces without a default: fastify.keydb is an object of namespaces', async () => {
    const url = await redisUrl()
    const { app } = buildApp()
    app.register(fastifyKeydb, { url, namespace: 'cache', db: 1 })
    app.register(fastifyKeydb, { url, namespace: 'sessions', db: 2 })
    await app.ready()
    expect(Object.keys(app.keydb).sort()).toEqual(['cache', 'sessions'])
    expect(app.keydb.cache?.options.db).toBe(1)
    expect(app.keydb.sessions?.options.db).toBe(2)
    expect(await app.keydb.cache?.ping()).toBe('PONG')
    expect(app.keydb.sessions?.capabilities.ready).toBe(true)
  })

  test('a default and a namespace, in either order, are both reachable', async () => {
    const url = await redisUrl()
    for (const order of [['default', 'named'] as const, ['named', 'default'] as const]) {
      const { app } = buildApp()
      for (const which of order)
        app.register(fastifyKeydb, which === 'default' ? { url } : { url, namespace: 'named' })
      await app.ready()
      expect(app.keydb).toBeInstanceOf(Redis)
      expect(app.keydb.named).toBeInstanceOf(Redis)
      expect(app.keydb.named).not.toBe(app.keydb)
      await app.close()
    }
  })

  test('an injected client is used as is and left open on close without closeClient', async () => {
    const client = new Redis(await redisUrl())
    onTestFinished(() => client.disconnect())
    const { app } = await appWith({ client })
    expect(app.keydb).toBe(client)
    expect(app.keydb.capabilities.server).toBe(await sharedServerKind())
    await app.close()
    expect(client.status).toBe('ready')
    expect(await client.ping()).toBe('PONG')
  })

  test('an injected client is closed with closeClient: true', async () => {
    const client = new Redis(await redisUrl())
    onTestFinished(() => client.disconnect())
    const { app } = await appWith({ client, closeClient: true })
    await app.close()
    expect(client.status).toBe('end')
  })

  test('an injected lazy client is connected at registration', async () => {
    const client = new Redis(await redisUrl(), { lazyConnect: true })
    onTestFinished(() => client.disconnect())
    expect(client.status).toBe('wait')
    const { app } = await appWith({ client })
    expect(app.keydb.status).toBe('ready')
  })

  test('the same injected client serves one app after another', async () => {
    const client = new Redis(await redisUrl())
    onTestFinished(() => client.disconnect())
    for (let i = 0; i < 2; i++) {
      const { app } = buildApp()
      app.register(fastifyKeydb, { client })
      app.register(fastifyKeydb, { url: await redisUrl(), namespace: 'other' })
      await app.ready()
      expect(app.keydb).toBe(client)
      expect(app.keydb.other).toBeInstanceOf(Redis)
      await app.close()
      expect('other' in client).toBe(false)
    }
  })

  test('registering the default twice is a coded error and closes nothing it did not create', async () => {
    const url = await redisUrl()
    const { app } = buildApp()
    app.register(fastifyKeydb, { url })
    app.register(fastifyKeydb, { url })
    await expect(app.ready()).rejects.toMatchObject({ code: 'FST_KEYDB_ALREADY_REGISTERED' })
  })

  test('registering the same namespace twice is a coded error', async () => {
    const url = await redisUrl()
    const { app } = buildApp()
    app.register(fastifyKeydb, { url, namespace: 'a' })
    app.register(fastifyKeydb, { url, namespace: 'a' })
    await expect(app.ready()).rejects.toMatchObject({ code: 'FST_KEYDB_ALREADY_REGISTERED' })
  })

  test('a namespace that would shadow a client member is rejected in either order', async () => {
    const url = await redisUrl()
    const first = buildApp()
    first.app.register(fastifyKeydb, { url })
    first.app.register(fastifyKeydb, { url, namespace: 'status' })
    await expect(first.app.ready()).rejects.toMatchObject({ code: 'FST_KEYDB_INVALID_OPTION' })
    const second = buildApp()
    second.app.register(fastifyKeydb, { url, namespace: 'get' })
    second.app.register(fastifyKeydb, { url })
    await expect(second.app.ready()).rejects.toMatchObject({ code: 'FST_KEYDB_INVALID_OPTION' })
  })

  test('sibling encapsulated contexts may each have their own default connection', async () => {
    const url = await redisUrl()
    const { app } = buildApp()
    const seen: unknown[] = []
    for (const db of [4, 5]) {
      app.register(async (child) => {
        child.register(fastifyKeydb, { url, db })
        child.after(() => seen.push(child.keydb.options.db))
      })
    }
    await app.ready()
    expect(seen).toEqual([4, 5])
    expect(app.hasDecorator('keydb')).toBe(false)
  })
})
