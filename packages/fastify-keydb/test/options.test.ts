import { Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { type FastifyKeydbOptions, fastifyKeydb } from '../src/index.js'
import { resolveOptions } from '../src/options.js'
import { buildApp } from './helpers.js'

const url = 'redis://127.0.0.1:6379'
const idleClient = () => {
  const client = new Redis({ lazyConnect: true })
  onTestFinished(() => client.disconnect())
  return client
}

// Each case is a plain object on purpose: these are the mistakes a JavaScript caller (or a cast) can make.
const invalid: Array<[string, () => Record<string, unknown>]> = [
  ['url and cluster together', () => ({ url, cluster: { nodes: [url] } })],
  ['url and client together', () => ({ url, client: idleClient() })],
  ['url and sentinels together', () => ({ url, sentinels: [{ host: 'a' }], name: 'm' })],
  ['cluster and client together', () => ({ cluster: { nodes: [url] }, client: idleClient() })],
  ['url not a string', () => ({ url: 6379 })],
  ['url with another scheme', () => ({ url: 'http://127.0.0.1:6379' })],
  ['url without a host', () => ({ url: 'redis://' })],
  ['connectTimeoutMs zero', () => ({ url, connectTimeoutMs: 0 })],
  ['connectTimeoutMs negative', () => ({ url, connectTimeoutMs: -5 })],
  ['connectTimeoutMs NaN', () => ({ url, connectTimeoutMs: Number.NaN })],
  ['connectTimeoutMs a string', () => ({ url, connectTimeoutMs: '500' })],
  ['commandTimeoutMs zero', () => ({ url, commandTimeoutMs: 0 })],
  ['commandTimeoutMs infinite', () => ({ url, commandTimeoutMs: Number.POSITIVE_INFINITY })],
  ['ioredis commandTimeout zero', () => ({ url, commandTimeout: 0 })],
  [
    'commandTimeoutMs and commandTimeout together',
    () => ({ url, commandTimeoutMs: 100, commandTimeout: 100 }),
  ],
  [
    'connectTimeoutMs and connectTimeout together',
    () => ({ url, connectTimeoutMs: 100, connectTimeout: 100 }),
  ],
  ['requireOnBoot not a boolean', () => ({ url, requireOnBoot: 'yes' })],
  ['namespace empty', () => ({ url, namespace: '' })],
  ['namespace with a space', () => ({ url, namespace: 'my cache' })],
  ['namespace starting with a digit', () => ({ url, namespace: '1cache' })],
  ['namespace too long', () => ({ url, namespace: 'n'.repeat(65) })],
  ['namespace not a string', () => ({ url, namespace: 7 })],
  ['namespace shadowing an extension', () => ({ url, namespace: 'health' })],
  ['client not an ioredis instance', () => ({ client: { get() {} } })],
  ['client null', () => ({ client: null })],
  ['closeClient without client', () => ({ url, closeClient: true })],
  ['closeClient not a boolean', () => ({ client: idleClient(), closeClient: 1 })],
  ['ioredis options with an injected client', () => ({ client: idleClient(), host: 'elsewhere' })],
  ['cluster without nodes', () => ({ cluster: {} })],
  ['cluster with no seed node', () => ({ cluster: { nodes: [] } })],
  ['cluster.options not an object', () => ({ cluster: { nodes: [url], options: 'fast' } })],
  ['top-level ioredis options with a cluster', () => ({ cluster: { nodes: [url] }, password: 'x' })],
  ['sentinels empty', () => ({ sentinels: [], name: 'mymaster' })],
  ['sentinels without a master name', () => ({ sentinels: [{ host: '127.0.0.1', port: 26379 }] })],
]

describe('bad options fail registration with FST_KEYDB_INVALID_OPTION', () => {
  test.each(invalid)('%s', async (_, make) => {
    const { app } = buildApp()
    app.register(fastifyKeydb, make() as FastifyKeydbOptions)
    await expect(app.ready()).rejects.toMatchObject({ code: 'FST_KEYDB_INVALID_OPTION' })
  })

  test('options that are not an object', () => {
    expect(() => resolveOptions('redis://x' as unknown as FastifyKeydbOptions)).toThrowError(
      expect.objectContaining({ code: 'FST_KEYDB_INVALID_OPTION' }),
    )
  })

  test('a password in a bad url stays out of the error', () => {
    expect(() => resolveOptions({ url: 'redis://user:secret@[bad' })).toThrowError(
      expect.objectContaining({
        code: 'FST_KEYDB_INVALID_OPTION',
        message: expect.not.stringContaining('secret'),
      }),
    )
  })
})

describe('resolved options', () => {
  test('standalone: fail-fast defaults, user ioredis options on top', () => {
    const resolved = resolveOptions({ url, enableOfflineQueue: true, keyPrefix: 'app:' })
    expect(resolved).toMatchObject({ connectTimeoutMs: 1_500, commandTimeoutMs: 500, requireOnBoot: false })
    expect(resolved.source).toMatchObject({
      kind: 'standalone',
      url,
      redisOptions: {
        enableOfflineQueue: true,
        keyPrefix: 'app:',
        commandTimeout: 500,
        connectTimeout: 1_500,
        maxRetriesPerRequest: 0,
        disableClientInfo: true,
        retryStrategy: expect.any(Function),
      },
    })
  })

  test('the raw ioredis commandTimeout also sets the plugin deadline', () => {
    expect(resolveOptions({ url, commandTimeout: 80 }).commandTimeoutMs).toBe(80)
  })

  test('cluster: defaults at both levels, user cluster and node options on top', () => {
    const resolved = resolveOptions({
      cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }], options: { redisOptions: { password: 'p' } } },
      commandTimeoutMs: 250,
    })
    expect(resolved.source).toMatchObject({
      kind: 'cluster',
      clusterOptions: {
        enableOfflineQueue: false,
        clusterRetryStrategy: expect.any(Function),
        redisOptions: {
          commandTimeout: 250,
          maxRetriesPerRequest: 0,
          disableClientInfo: true,
          password: 'p',
        },
      },
    })
  })

  test('fastify register options are not taken for ioredis options', () => {
    const client = idleClient()
    expect(resolveOptions({ client, prefix: '/x' } as FastifyKeydbOptions).source.kind).toBe('client')
  })
})
