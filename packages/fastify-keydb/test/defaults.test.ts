import { describe, expect, test } from 'vitest'
import {
  failFastRedisOptions,
  RECONNECT_BASE_DELAY_MS,
  RECONNECT_MAX_DELAY_MS,
  reconnectDelay,
} from '../src/defaults.js'
import { resolveOptions } from '../src/options.js'

describe('reconnectDelay', () => {
  test('grows exponentially from the base, never above the cap, and never gives up', () => {
    const delays = Array.from({ length: 40 }, (_, i) => reconnectDelay(i + 1))
    expect(delays.every((d) => typeof d === 'number' && d > 0 && d <= RECONNECT_MAX_DELAY_MS)).toBe(true)
    expect(delays[0]).toBeLessThanOrEqual(RECONNECT_BASE_DELAY_MS)
    expect(delays[0]).toBeGreaterThanOrEqual(RECONNECT_BASE_DELAY_MS * 0.8)
    expect(delays.at(-1)).toBeGreaterThanOrEqual(RECONNECT_MAX_DELAY_MS * 0.8)
    expect(reconnectDelay(1_000_000)).toBeLessThanOrEqual(RECONNECT_MAX_DELAY_MS)
  })
})

describe('failFastRedisOptions', () => {
  test('are the options the plugin gives its own clients', () => {
    expect(failFastRedisOptions()).toEqual(resolvedRedisOptions({}))
    expect(failFastRedisOptions({ commandTimeoutMs: 100, connectTimeoutMs: 300 })).toEqual(
      resolvedRedisOptions({ commandTimeoutMs: 100, connectTimeoutMs: 300 }),
    )
    expect(failFastRedisOptions({ commandTimeoutMs: 100 })).toMatchObject({
      commandTimeout: 100,
      connectTimeout: 1_500,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    })
  })
})

describe('Sentinel defaults', () => {
  const sentinels = [{ host: '127.0.0.1', port: 26379 }]

  test('through Sentinel the client follows +switch-master and gives up on a silent sentinel at the command deadline', () => {
    const { source } = resolveOptions({ sentinels, name: 'cache', commandTimeoutMs: 300 })
    if (source.kind !== 'standalone') throw new Error('expected a standalone source')
    expect(source.redisOptions).toMatchObject({
      failoverDetector: true,
      sentinelCommandTimeout: 300,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 300,
    })
  })

  test('your ioredis options win; without sentinels none of it is added', () => {
    const { source } = resolveOptions({ sentinels, name: 'cache', failoverDetector: false })
    if (source.kind !== 'standalone') throw new Error('expected a standalone source')
    expect(source.redisOptions).toMatchObject({ failoverDetector: false, sentinelCommandTimeout: 500 })
    const plain = resolvedRedisOptions({})
    expect(plain).not.toHaveProperty('failoverDetector')
    expect(plain).not.toHaveProperty('sentinelCommandTimeout')
  })

  test('failFastRedisOptions({ sentinel: true }) gives a hand-made Sentinel client the same', () => {
    expect(failFastRedisOptions({ sentinel: true, commandTimeoutMs: 200 })).toEqual({
      ...failFastRedisOptions({ commandTimeoutMs: 200 }),
      failoverDetector: true,
      sentinelCommandTimeout: 200,
    })
  })
})

function resolvedRedisOptions(timeouts: { commandTimeoutMs?: number; connectTimeoutMs?: number }) {
  const { source } = resolveOptions({ host: '127.0.0.1', ...timeouts })
  if (source.kind !== 'standalone') throw new Error('expected a standalone source')
  const { host: _, ...rest } = source.redisOptions
  return rest
}
