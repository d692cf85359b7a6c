import { Cluster, Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { describeAddress } from '../src/connect.js'

function lazy<T extends Redis | Cluster>(client: T): T {
  onTestFinished(() => client.disconnect())
  return client
}

describe('describeAddress', () => {
  test('names host and port, never the password', () => {
    const client = lazy(new Redis('redis://user:secret@10.0.0.5:6380/2', { lazyConnect: true }))
    expect(describeAddress(client)).toBe('10.0.0.5:6380')
  })

  test('names a unix socket', () => {
    expect(describeAddress(lazy(new Redis({ path: '/run/keydb.sock', lazyConnect: true })))).toBe(
      'unix:/run/keydb.sock',
    )
  })

  test('names the sentinels and the master group', () => {
    const client = lazy(
      new Redis({
        sentinels: [{ host: 's1', port: 26379 }, { host: 's2' }],
        name: 'cache',
        lazyConnect: true,
      }),
    )
    expect(describeAddress(client)).toBe('master "cache" via sentinels s1:26379,s2:26379')
  })

  test('names the seed nodes of a cluster, whatever form they were given in', () => {
    const client = lazy(new Cluster([{ host: 'n1', port: 7000 }, 'n2:7001', 7002], { lazyConnect: true }))
    expect(describeAddress(client)).toBe('cluster n1:7000,n2:7001,localhost:7002')
  })
})
