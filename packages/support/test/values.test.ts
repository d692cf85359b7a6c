import { describe, expect, it } from 'vitest'
import {
  booleanProblem,
  describeValue,
  durationProblem,
  integerProblem,
  isPlainObject,
  MAX_TIMER_MS,
  unknownKeyProblem,
} from '../src/index.js'

describe('option checks', () => {
  it('describes values with their type, quoted when strings, at most 80 characters', () => {
    expect(describeValue('5m')).toBe('"5m" (string)')
    expect(describeValue(-1)).toBe('-1 (number)')
    expect(describeValue(null)).toBe('null')
    expect(describeValue(undefined)).toBe('undefined')
    expect(describeValue([1, 2])).toBe('[ 1, 2 ] (array)')
    expect(describeValue(function named() {})).toBe('function named (function)')
    expect(describeValue('x'.repeat(200)).length).toBeLessThanOrEqual(80 + ' (string)'.length)
  })

  it('durations: the limit is named, never rounded up; zero only where a window may be off', () => {
    expect(durationProblem(1)).toBeUndefined()
    expect(durationProblem(MAX_TIMER_MS)).toBeUndefined()
    expect(durationProblem(MAX_TIMER_MS + 1)).toContain('24.8 days')
    expect(durationProblem(0)).toContain('from 1 to 2147483647')
    expect(durationProblem(0, { allowZero: true })).toBeUndefined()
    expect(durationProblem(Number.NaN)).toContain('NaN (number)')
    expect(durationProblem('1s')).toContain('"1s" (string)')
    expect(durationProblem(1.5, { integer: true })).toContain('whole number of ms')
    expect(durationProblem(1.5)).toBeUndefined()
    expect(durationProblem(5_000, { max: 1_000 })).toContain('from 1 to 1000 (1 s)')
  })

  it('integers, booleans, plain objects', () => {
    expect(integerProblem(3, 1)).toBeUndefined()
    expect(integerProblem(0, 1)).toBe('expected an integer >= 1, got 0 (number)')
    expect(integerProblem(2_000, 1, 1_024)).toContain('from 1 to 1024')
    expect(booleanProblem('yes')).toContain('"yes" (string)')
    expect(booleanProblem(false)).toBeUndefined()
    expect(isPlainObject({})).toBe(true)
    expect(isPlainObject([])).toBe(false)
    expect(isPlainObject(null)).toBe(false)
  })

  it('unknown keys are named with the known ones; a renamed one names its new name', () => {
    expect(unknownKeyProblem({ a: 1 }, ['a', 'b'])).toBeUndefined()
    expect(unknownKeyProblem({ c: 1 }, ['a', 'b'])).toEqual({
      key: 'c',
      problem: 'unknown option (known: a, b)',
    })
    expect(unknownKeyProblem({ ttl: 1 }, ['ttlMs'], { ttl: 'ttlMs' })).toEqual({
      key: 'ttl',
      problem: 'renamed to ttlMs',
    })
  })
})
