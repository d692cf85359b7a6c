import { binaryKind, redisUrl, sharedServerKind } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { detectCapabilities, parseServerInfo } from '../src/index.js'
import { appWith, eventually, throwawayServer } from './helpers.js'

// `INFO server` of KeyDB 6.3.4, modelled on a real reply: KeyDB prints `availability_zone:` and
// `features:cluster_mget` at the end of the section.
const KEYDB_INFO = [
  '# Server',
  'redis_version:6.3.4',
  'redis_git_sha1:7e7e5e57',
  'redis_git_dirty:1',
  'redis_build_id:ba0f6bd2a9fa6f5b',
  'redis_mode:standalone',
  'os:Linux 5.15.0-91-generic x86_64',
  'arch_bits:64',
  'multiplexing_api:epoll',
  'atomicvar_api:c11-builtin',
  'gcc_version:9.4.0',
  'process_id:1',
  'process_supervised:no',
  'run_id:0d8a76b54ab1f7bbb7b8c4c2a0dbb6a5f8f1e0c2',
  'tcp_port:6379',
  'server_time_usec:1700000000000000',
  'uptime_in_seconds:42',
  'uptime_in_days:0',
  'hz:10',
  'configured_hz:10',
  'lru_clock:11832201',
  'executable:/usr/local/bin/keydb-server',
  'config_file:/etc/keydb/keydb.conf',
  'availability_zone:',
  'features:cluster_mget',
  '',
].join('\r\n')

describe('parseServerInfo', () => {
  test('recognises KeyDB by features:cluster_mget', () => {
    expect(parseServerInfo(KEYDB_INFO)).toEqual({ server: 'keydb', version: '6.3.4' })
  })

  test('recognises KeyDB whatever version it reports (version-override)', () => {
    const overridden = KEYDB_INFO.replace('redis_version:6.3.4', 'redis_version:7.2.4')
    expect(parseServerInfo(overridden)).toEqual({ server: 'keydb', version: '7.2.4' })
  })

  test('each KeyDB marker is enough on its own', () => {
    const withoutFeatures = KEYDB_INFO.replace('features:cluster_mget\r\n', '')
    expect(parseServerInfo(withoutFeatures).server).toBe('keydb')
    const withoutZone = KEYDB_INFO.replace('availability_zone:\r\n', '')
    expect(parseServerInfo(withoutZone).server).toBe('keydb')
    expect(parseServerInfo('redis_version:6.3.4\nfeatures:foo cluster_mget\n').server).toBe('keydb')
    expect(parseServerInfo('# KeyDB\r\nmvcc_depth:0\r\n').server).toBe('keydb')
  })

  test('a Redis INFO is redis, even with a KeyDB-like version', () => {
    const redisLike = KEYDB_INFO.replace('availability_zone:\r\n', '').replace(
      'features:cluster_mget\r\n',
      '',
    )
    expect(parseServerInfo(redisLike)).toEqual({ server: 'redis', version: '6.3.4' })
  })

  test('text without redis_version is unknown', () => {
    expect(parseServerInfo('')).toEqual({ server: 'unknown', version: null })
    expect(parseServerInfo('# Server\r\nsomething:else\r\n')).toEqual({ server: 'unknown', version: null })
  })
})

describe('capabilities on a live server', () => {
  test('fastify.keydb.capabilities: the server kind, its version, standalone, ready', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    const version = /redis_version:(\S+)/.exec(await app.keydb.info('server'))?.[1]
    const server = await sharedServerKind()
    expect(app.keydb.capabilities).toEqual({ server, version, mode: 'standalone', ready: true })
    expect(Object.isFrozen(app.keydb.capabilities)).toBe(true)
  })

  test('ready follows the connection; the last known server is kept while it is down', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    await server.kill()
    expect(await eventually(() => app.keydb.capabilities.ready === false, 2_000)).toBe(true)
    expect(app.keydb.capabilities.server).toBe(binaryKind())
  })

  test('detectCapabilities works on a bare client, without the plugin', async () => {
    const client = new Redis(await redisUrl())
    onTestFinished(() => client.disconnect())
    await client.ping()
    expect(await detectCapabilities(client)).toMatchObject({
      server: await sharedServerKind(),
      mode: 'standalone',
      ready: true,
    })
  })

  test('detectCapabilities never throws on a client that cannot reach its server', async () => {
    const server = await throwawayServer()
    await server.kill()
    const client = new Redis(server.url, { enableOfflineQueue: false, retryStrategy: () => null })
    client.on('error', () => {})
    onTestFinished(() => client.disconnect())
    expect(await detectCapabilities(client, { timeoutMs: 200 })).toEqual({
      server: 'unknown',
      version: null,
      mode: 'standalone',
      ready: false,
    })
  })
})
