import { inspect } from 'node:util'

/**
 * The longest delay a Node.js timer accepts (2^31 - 1 ms, about 24.8 days): every duration option of
 * the fastkey packages is bounded by it, because each ends up in a `setTimeout` or a `PX`.
 */
export const MAX_TIMER_MS = 2_147_483_647

/** A value as an option error shows it: quoted when a string, with its type, at most 80 characters. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  const type = Array.isArray(value) ? 'array' : typeof value
  const shown =
    typeof value === 'string'
      ? JSON.stringify(value)
      : typeof value === 'function'
        ? `function ${value.name || '(anonymous)'}`
        : inspect(value, { depth: 0, breakLength: Number.POSITIVE_INFINITY })
  return `${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown} (${type})`
}

/** "24.8 days", "1 h", "500 ms": how a limit in ms reads in an error message (never rounded up). */
function humanMs(ms: number): string {
  if (ms >= 86_400_000) return `${Math.floor(ms / 8_640_000) / 10} days`
  if (ms >= 3_600_000) return `${Math.floor(ms / 360_000) / 10} h`
  if (ms >= 1_000) return `${Math.floor(ms / 100) / 10} s`
  return `${ms} ms`
}

export interface DurationRule {
  /** Whether 0 is accepted (a window that can be off), else the smallest value is 1. @default false */
  allowZero?: boolean
  /** Largest value accepted, ms. @default MAX_TIMER_MS */
  max?: number
  /** Whether only whole milliseconds are accepted (a value sent as `PX`). @default false */
  integer?: boolean
}

/**
 * Why `value` is not a valid duration in ms, or `undefined` when it is one. Each package wraps the
 * text in its own coded error, prefixed with the option's name.
 */
export function durationProblem(value: unknown, rule: DurationRule = {}): string | undefined {
  const min = rule.allowZero ? 0 : 1
  const max = rule.max ?? MAX_TIMER_MS
  const whole = !rule.integer || Number.isInteger(value)
  if (typeof value === 'number' && Number.isFinite(value) && whole && value >= min && value <= max)
    return undefined
  const what = rule.integer ? 'a whole number of ms' : 'a number of ms'
  return `expected ${what} from ${min} to ${max} (${humanMs(max)}), got ${describeValue(value)}`
}

/** Why `value` is not an integer in [min, max], or `undefined` when it is one. */
export function integerProblem(
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): string | undefined {
  if (Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max) return undefined
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`
  return `expected an integer ${range}, got ${describeValue(value)}`
}

/** Why `value` is not a boolean, or `undefined`. */
export function booleanProblem(value: unknown): string | undefined {
  return typeof value === 'boolean' ? undefined : `expected true or false, got ${describeValue(value)}`
}

/**
 * The first key of `options` that is not in `known`, with the text of the problem; `undefined` when
 * every key is known. `renamed` maps names used before 1.0 to their new names, so the error says so.
 */
export function unknownKeyProblem(
  options: object,
  known: readonly string[],
  renamed: Readonly<Record<string, string>> = {},
): { key: string; problem: string } | undefined {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    const now = renamed[key]
    if (now !== undefined && known.includes(now)) return { key, problem: `renamed to ${now}` }
    return { key, problem: `unknown option (known: ${known.join(', ')})` }
  }
  return undefined
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
