import { loadedIoredisVersion, requestedIoredisMajor } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { expect, onTestFinished, test } from 'vitest'
import { createClient } from '../src/connect.js'
import { resolveOptions } from '../src/options.js'

// The suite runs once per supported ioredis major (FASTKEY_IOREDIS=5 swaps the copy, see
// vitest.shared.ts): this fails when the swap did not happen, so a matrix can never run 6 twice.
test('the ioredis this run imports is the requested major', () => {
  const major = Number(loadedIoredisVersion(Redis).split('.')[0])
  expect(major).toBe(requestedIoredisMajor())
})

test('the plugin creates its clients with that same copy', () => {
  const client = createClient(resolveOptions({ host: '127.0.0.1', lazyConnect: true }).source)
  onTestFinished(() => client.disconnect())
  expect(client).toBeInstanceOf(Redis)
})
