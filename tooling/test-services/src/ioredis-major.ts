/**
 * Which ioredis major a test run loads: `FASTKEY_IOREDIS=5` makes vitest alias `ioredis` to the
 * `ioredis5` package (`npm:ioredis@^5.11`, see vitest.shared.ts); unset or `6` is the workspace
 * default. No imports here: vitest.shared.ts reads it while the config loads.
 */
export function requestedIoredisMajor(): 5 | 6 {
  const value = process.env.FASTKEY_IOREDIS ?? '6'
  if (value !== '5' && value !== '6') {
    throw new Error(`FASTKEY_IOREDIS must be 5 or 6, got ${JSON.stringify(value)}`)
  }
  return value === '5' ? 5 : 6
}
