import Fastify from 'fastify'
import { Cluster, Redis } from 'ioredis'
import { describe, expectTypeOf, test } from 'vitest'
import fastifyKeydbDefault, {
  detectCapabilities,
  errors,
  type FastifyKeydbOptions,
  fastifyKeydb,
  type KeydbCapabilities,
  type KeydbClient,
  type KeydbHealth,
} from '../src/index.js'

// What users write; TypeScript resolves the package name to this package's own source.
declare module '@fastkey/fastify-keydb' {
  interface KeydbNamespaces {
    sessions: KeydbClient
  }
}

const app = Fastify()

describe('fastify.keydb', () => {
  test('is the ioredis client with the extensions', () => {
    expectTypeOf(app.keydb.get('k')).toEqualTypeOf<Promise<string | null>>()
    expectTypeOf(app.keydb.health()).toEqualTypeOf<Promise<KeydbHealth>>()
    expectTypeOf(app.keydb.health({ timeoutMs: 100 })).toEqualTypeOf<Promise<KeydbHealth>>()
    expectTypeOf(app.keydb.capabilities).toEqualTypeOf<KeydbCapabilities>()
    expectTypeOf(app.keydb.capabilities.server).toEqualTypeOf<'keydb' | 'redis' | 'unknown'>()
    expectTypeOf(app.keydb.subscriber()).toEqualTypeOf<Redis>()
    expectTypeOf(app.keydb).toExtend<Redis>()
    // @ts-expect-error capabilities are read-only
    app.keydb.capabilities = { server: 'redis', version: null, mode: 'standalone', ready: true }
  })

  test('declared namespaces are clients, others may be undefined', () => {
    expectTypeOf(app.keydb.sessions).toEqualTypeOf<KeydbClient>()
    expectTypeOf(app.keydb.sessions.get('k')).toEqualTypeOf<Promise<string | null>>()
    expectTypeOf(app.keydb.anything).toEqualTypeOf<KeydbClient | undefined>()
  })

  test('detectCapabilities takes any ioredis client', () => {
    expectTypeOf(detectCapabilities(new Redis())).toEqualTypeOf<Promise<KeydbCapabilities>>()
    expectTypeOf(detectCapabilities(new Cluster([]))).toEqualTypeOf<Promise<KeydbCapabilities>>()
    expectTypeOf(detectCapabilities).parameter(0).toEqualTypeOf<Redis | Cluster>()
  })

  test('errors carry their codes as literal types', () => {
    expectTypeOf(
      new errors.FST_KEYDB_INVALID_OPTION('url', 'bad').code,
    ).toEqualTypeOf<'FST_KEYDB_INVALID_OPTION'>()
    expectTypeOf(
      new errors.FST_KEYDB_CONNECT_FAILED('a', 1, 'r').code,
    ).toEqualTypeOf<'FST_KEYDB_CONNECT_FAILED'>()
  })

  test('default and named exports are the same plugin', () => {
    expectTypeOf(fastifyKeydbDefault).toEqualTypeOf(fastifyKeydb)
  })
})

describe('options', () => {
  test('valid connection sources compile', () => {
    app.register(fastifyKeydb, { url: 'redis://127.0.0.1:6379' })
    app.register(fastifyKeydb, { url: 'redis://127.0.0.1:6379', keyPrefix: 'app:', db: 2 })
    app.register(fastifyKeydb, { host: '127.0.0.1', port: 6379, password: 'x', namespace: 'cache' })
    app.register(fastifyKeydb, { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' })
    app.register(fastifyKeydb, {
      cluster: { nodes: [{ host: 'n1', port: 7000 }], options: { scaleReads: 'slave' } },
    })
    app.register(fastifyKeydb, { client: new Redis(), closeClient: true })
    app.register(fastifyKeydb, { client: new Cluster([]) })
    app.register(fastifyKeydb, {
      url: 'redis://127.0.0.1:6379',
      connectTimeoutMs: 1_000,
      commandTimeoutMs: 200,
      requireOnBoot: true,
    })
    expectTypeOf<{ url: string }>().toExtend<FastifyKeydbOptions>()
  })

  test('invalid options do not compile', () => {
    // @ts-expect-error two connection sources
    app.register(fastifyKeydb, { url: 'redis://a', cluster: { nodes: ['b:7000'] } })
    // @ts-expect-error url and an injected client
    app.register(fastifyKeydb, { url: 'redis://a', client: new Redis() })
    // @ts-expect-error closeClient only with client
    app.register(fastifyKeydb, { url: 'redis://a', closeClient: true })
    // @ts-expect-error ioredis top-level options do not apply to a cluster
    app.register(fastifyKeydb, { cluster: { nodes: ['b:7000'] }, host: 'x' })
    // @ts-expect-error cluster needs nodes
    app.register(fastifyKeydb, { cluster: { options: {} } })
    // @ts-expect-error timeouts are numbers of milliseconds
    app.register(fastifyKeydb, { url: 'redis://a', connectTimeoutMs: '500' })
    // @ts-expect-error requireOnBoot is a boolean
    app.register(fastifyKeydb, { url: 'redis://a', requireOnBoot: 'yes' })
    // @ts-expect-error client must be an ioredis instance
    app.register(fastifyKeydb, { client: { get: () => null } })
    // @ts-expect-error url is a string
    app.register(fastifyKeydb, { url: 6379 })
  })
})
