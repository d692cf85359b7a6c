import { describe, expect, test } from 'vitest'
import { RECONNECT_BASE_DELAY_MS, RECONNECT_MAX_DELAY_MS, reconnectDelay } from '../src/defaults.js'

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
