import { afterEach, describe, expect, it, vi } from 'vitest'
import { CircuitBreaker } from '../../src/engine/breaker.js'

describe('circuit breaker', () => {
  let now = 0
  afterEach(() => vi.restoreAllMocks())

  function breaker(failureThreshold = 3, cooldownMs = 1_000) {
    now = 0
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    const states: string[] = []
    const b = new CircuitBreaker({ failureThreshold, cooldownMs, slowCallMs: false }, (state) =>
      states.push(state),
    )
    return { b, states }
  }

  it('opens after the threshold of consecutive failures; a success resets the count', () => {
    const { b, states } = breaker(3)
    b.failure()
    b.failure()
    b.success()
    b.failure()
    b.failure()
    expect(b.state).toBe('closed')
    b.failure()
    expect(b.state).toBe('open')
    expect(b.allow()).toBe(false)
    expect(states).toEqual(['open'])
  })

  it('after the cooldown lets one probe through (half-open); its success closes, its failure reopens', () => {
    const { b, states } = breaker(1, 1_000)
    b.failure()
    now = 999
    expect(b.allow()).toBe(false)
    now = 1_000
    expect(b.allow()).toBe(true)
    expect(b.state).toBe('half-open')
    expect(b.allow()).toBe(false) // one probe at a time
    b.failure()
    expect(b.state).toBe('open')
    now = 2_000
    expect(b.allow()).toBe(true)
    b.success()
    expect(b.state).toBe('closed')
    expect(b.allow()).toBe(true)
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
  })
})
