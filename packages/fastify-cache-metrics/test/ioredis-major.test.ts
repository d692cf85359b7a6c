import { loadedIoredisVersion, requestedIoredisMajor } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { expect, test } from 'vitest'

// The suite runs once per supported ioredis major (FASTKEY_IOREDIS=5 swaps the copy, see
// vitest.shared.ts): this fails when the swap did not happen, so a matrix can never run 6 twice.
test('the ioredis this run imports is the requested major', () => {
  const major = Number(loadedIoredisVersion(Redis).split('.')[0])
  expect(major).toBe(requestedIoredisMajor())
})
