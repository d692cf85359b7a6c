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
  ['protocol neither 2 nor 3', () => ({ url, protocol: 1 })],
  ['protocol a string', () => ({ url, protocol: '3' })],
  ['replyMapping resp3', () => ({ url, protocol: 3, replyMapping: 'resp3' })],
  ['replyMapping unknown', () => ({ url, replyMapping: 'objects' })],
  [
    'cluster.options.redisOptions not an object',
    () => ({ cluster: { nodes: [url], options: { redisOptions: 2 } } }),
  ],
  [
    'cluster node protocol 4',
    () => ({ cluster: { nodes: [url], options: { redisOptions: { protocol: 4 } } } }),
  ],
  [
    'cluster node replyMapping resp3',
    () => ({ cluster: { nodes: [url], options: { redisOptions: { replyMapping: 'resp3' } } } }),
  ],
  ['url with port 0', () => ({ url: 'redis://127.0.0.1:0' })],
  ['url with an upper-case scheme', () => ({ url: 'REDISS://127.0.0.1:6379' })],
  ['url with db "abc"', () => ({ url: `${url}/abc` })],
  ['url with db "3abc"', () => ({ url: `${url}/3abc` })],
  ['url with db "-1"', () => ({ url: `${url}/-1` })],
  ['url with db "1/2"', () => ({ url: `${url}/1/2` })],
  ['url with ?db=x', () => ({ url: `${url}?db=x` })],
  ['url with a db in the path and the query', () => ({ url: `${url}/1?db=2` })],
  ['db option 1.5', () => ({ url, db: 1.5 })],
  ['db option negative', () => ({ url, db: -1 })],
  ['db option NaN', () => ({ url, db: Number.NaN })],
  ['db option a string', () => ({ url, db: 'x' })],
  ['db in the url and as an option', () => ({ url: `${url}/1`, db: 1 })],
  ['host option empty', () => ({ host: '' })],
  ['port option 0', () => ({ port: 0 })],
  ['port option 70000', () => ({ port: 70_000 })],
  ['cluster seed url with db 2', () => ({ cluster: { nodes: [`${url}/2`] } })],
  ['cluster seed "host:0"', () => ({ cluster: { nodes: ['127.0.0.1:0'] } })],
  ['cluster seed port 0', () => ({ cluster: { nodes: [0] } })],
  ['cluster seed { port: 99999 }', () => ({ cluster: { nodes: [{ host: 'h', port: 99_999 }] } })],
  ['cluster seed of another type', () => ({ cluster: { nodes: [true] } })],
  ['cluster redisOptions.db 1', () => ({ cluster: { nodes: [url], options: { redisOptions: { db: 1 } } } })],
  ['maxReplyBytes 0', () => ({ url, maxReplyBytes: 0 })],
  ['maxReplyBytes 1.5', () => ({ url, maxReplyBytes: 1.5 })],
  ['maxReplyBytes a string', () => ({ url, maxReplyBytes: '64mb' })],
  [
    'an injected client whose db is NaN (built from redis://host/abc)',
    () => {
      const client = new Redis(`${url}/abc`, { lazyConnect: true })
      onTestFinished(() => client.disconnect())
      return { client }
    },
  ],
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

  test('a password with a raw "@" in a bad url stays out of the error', () => {
    expect(() => resolveOptions({ url: 'redis://user:hunter@2@127.0.0.1:0' })).toThrowError(
      expect.objectContaining({
        code: 'FST_KEYDB_INVALID_OPTION',
        message: expect.not.stringContaining('hunter'),
      }),
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
        keepAlive: 30_000,
        protocol: 2,
        retryStrategy: expect.any(Function),
      },
    })
  })

  test('the user may pick the protocol explicitly', () => {
    const { source } = resolveOptions({ url, protocol: 2, replyMapping: 'legacy' })
    expect(source).toMatchObject({ redisOptions: { protocol: 2, replyMapping: 'legacy' } })
  })

  test('the database index: from the path, the query, the db option, else 0', () => {
    const db = (options: FastifyKeydbOptions) => (resolveOptions(options).source as { db: number }).db
    expect(db({ url: `${url}/3` })).toBe(3)
    expect(db({ url: `${url}/` })).toBe(0)
    expect(db({ url: `${url}?db=4` })).toBe(4)
    expect(db({ url, db: 2 })).toBe(2)
    expect(db({ url })).toBe(0)
    expect(db({ host: '127.0.0.1', port: 6379 })).toBe(0)
  })

  test('cluster seeds: URLs on db 0, host:port, ports, objects', () => {
    const nodes = [`${url}/0`, url, '127.0.0.1:7000', 7001, { host: '127.0.0.1', port: 7002 }]
    expect(resolveOptions({ cluster: { nodes } }).source.kind).toBe('cluster')
  })

  test('maxReplyBytes: 64 MiB by default, any positive integer, Infinity turns it off', () => {
    expect(resolveOptions({ url }).maxReplyBytes).toBe(64 * 1024 * 1024)
    expect(resolveOptions({ url, maxReplyBytes: 1 }).maxReplyBytes).toBe(1)
    expect(resolveOptions({ url, maxReplyBytes: Number.POSITIVE_INFINITY }).maxReplyBytes).toBe(
      Number.POSITIVE_INFINITY,
    )
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
          keepAlive: 30_000,
          protocol: 2,
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
