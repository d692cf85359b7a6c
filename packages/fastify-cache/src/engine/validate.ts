import {
  booleanProblem,
  type DurationRule,
  describeValue,
  durationProblem,
  integerProblem,
  isPlainObject,
  unknownKeyProblem,
} from '@fastkey/support'
import { errors } from '../errors.js'

/**
 * Builds the coded error of one place that takes options: the engine and the plugin use
 * FST_CACHE_INVALID_OPTION, routes FST_CACHE_ROUTE_CONFIG (with method and URL). `what` always reads
 * `<key>: <problem>`, and the problem names the value (quoted, with its type) and the limit.
 */
export type Fail = (what: string) => Error

export const invalidOption: Fail = (what) => new errors.FST_CACHE_INVALID_OPTION(what)

/** Options renamed before 1.0 (every duration ends in `Ms`): the old name fails naming the new one. */
const RENAMED: Readonly<Record<string, string>> = {
  ttl: 'ttlMs',
  staleWhileRevalidate: 'staleWhileRevalidateMs',
  staleIfError: 'staleIfErrorMs',
  negativeTtl: 'negativeTtlMs',
  storeTimeoutMs: 'commandTimeoutMs',
  namespace: 'keyPrefix',
}

/** Throws for the first key of `options` that is not in `known` (a typo must fail, not be ignored). */
export function rejectUnknownKeys(options: object, known: readonly string[], fail: Fail, path = ''): void {
  const found = unknownKeyProblem(options, known, RENAMED)
  if (found) throw fail(`${path}${found.key}: ${found.problem}`)
}

/** `value` as an options object (throws unless it is a plain object). */
export function objectOf(value: unknown, key: string, fail: Fail): Record<string, unknown> {
  if (!isPlainObject(value)) throw fail(`${key}: expected an object, got ${describeValue(value)}`)
  return value
}

export function duration(value: unknown, key: string, fail: Fail, rule?: DurationRule): number {
  const problem = durationProblem(value, rule)
  if (problem !== undefined) throw fail(`${key}: ${problem}`)
  return value as number
}

export function integer(value: unknown, key: string, fail: Fail, min: number, max?: number): number {
  const problem = integerProblem(value, min, max)
  if (problem !== undefined) throw fail(`${key}: ${problem}`)
  return value as number
}

export function boolean(value: unknown, key: string, fail: Fail): boolean {
  const problem = booleanProblem(value)
  if (problem !== undefined) throw fail(`${key}: ${problem}`)
  return value as boolean
}

/** Checks an optional callback option. */
export function optionalFunction(value: unknown, key: string, fail: Fail): void {
  if (value !== undefined && typeof value !== 'function')
    throw fail(`${key}: expected a function, got ${describeValue(value)}`)
}

export { describeValue }
