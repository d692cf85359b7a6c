import { once } from 'node:events'
import {
  clusterNodes,
  holdEventLoop,
  redisUrl,
  uniquePrefix,
  warnClusterSkipped,
} from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { describe, expect, onTestFinished, test } from 'vitest'
import { appWith } from './helpers.js'

// ioredis' commandTimeout is a plain timer: after a long synchronous turn of the event loop the timers
// phase comes before the poll phase that reads the reply, and a command KeyDB answered at once failed
// with "Command timed out" (every command on the wire after a 1,200 ms hold, reliability scenario
// held-event-loop-alone). The frozen-server test in fail-fast.test.ts shows the deadline still holds.

const DEADLINE_MS = 100
const HOLD_MS = 3 * DEADLINE_MS

/** Sends one command of each kind, holds the loop past the deadline, then lets the replies be read. */
async function answeredBehindHeldLoop(client: {
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>
  get(key: string): Promise<string | null>
  eval(script: string, keys: number, ...args: string[]): Promise<unknown>
}): Promise<unknown[]> {
  const key = `${uniquePrefix('deadline')}k`
  await client.set(key, 'v', 'PX', 10_000)
  const pending = [client.get(key), client.eval('return ARGV[1]', 0, 'scripted')]
  holdEventLoop(HOLD_MS)
  return Promise.all(pending)
}

describe('the command deadline after a held event loop', () => {
  test('a reply that arrived in time is not a timeout: client, duplicate() and the subscriber', async () => {
    const { app } = await appWith({ url: await redisUrl(), commandTimeoutMs: DEADLINE_MS })
    expect(await answeredBehindHeldLoop(app.keydb)).toEqual(['v', 'scripted'])
    const copy = (app.keydb as unknown as Redis).duplicate()
    onTestFinished(() => copy.disconnect())
    await once(copy, 'ready') // no offline queue: a copy answers once connected
    expect(await answeredBehindHeldLoop(copy)).toEqual(['v', 'scripted'])
    const subscriber = await app.keydb.subscriber()
    const subscribed = subscriber.subscribe(uniquePrefix('deadline-channel'))
    holdEventLoop(HOLD_MS)
    await expect(subscribed).resolves.toBe(1)
  })

  test('a client passed in keeps ioredis as it is', async () => {
    const client = new Redis(await redisUrl(), { commandTimeout: DEADLINE_MS })
    onTestFinished(() => client.disconnect())
    await appWith({ client })
    expect(Object.hasOwn(client, 'sendCommand')).toBe(false)
  })
})

const nodes = clusterNodes()
if (!nodes) warnClusterSkipped('@fastkey/fastify-keydb command deadline')

describe.skipIf(!nodes)('the command deadline after a held event loop, Redis Cluster', () => {
  test('a reply that arrived in time is not a timeout', async () => {
    const { app } = await appWith({ cluster: { nodes: nodes ?? [] }, commandTimeoutMs: DEADLINE_MS })
    const key = `${uniquePrefix('deadline')}k`
    await app.keydb.set(key, 'v', 'PX', 10_000)
    const pending = [app.keydb.get(key), app.keydb.pttl(key)]
    holdEventLoop(HOLD_MS)
    const [value, pttl] = await Promise.all(pending)
    expect(value).toBe('v')
    expect(pttl).toBeGreaterThan(0)
  })
})
