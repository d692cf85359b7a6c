import { redisUrl, uniquePrefix } from '@fastkey/test-services'
import type { Redis } from 'ioredis'
import { describe, expect, test } from 'vitest'
import { RECONNECT_MAX_DELAY_MS } from '../src/index.js'
import { appWith, eventually, throwawayServer } from './helpers.js'

function nextMessage(subscriber: Redis, channel: string): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (ch: string, message: string) => {
      if (ch !== channel) return
      subscriber.off('message', onMessage)
      resolve(message)
    }
    subscriber.on('message', onMessage)
  })
}

describe('subscriber()', () => {
  test('publish/subscribe round trip through a dedicated connection', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    const channel = `${uniquePrefix('pubsub')}bus`
    const subscriber = app.keydb.subscriber()
    expect(subscriber).not.toBe(app.keydb)
    expect(app.keydb.subscriber()).toBe(subscriber)
    await subscriber.subscribe(channel)
    const received = nextMessage(subscriber, channel)
    expect(await app.keydb.publish(channel, 'hello')).toBe(1)
    expect(await received).toBe('hello')
    // The main client is not in subscriber mode and keeps serving commands.
    expect(await app.keydb.ping()).toBe('PONG')
  })

  test('queues while disconnected and resubscribes after the server comes back', async () => {
    const server = await throwawayServer()
    const { app } = await appWith({ url: server.url })
    const subscriber = app.keydb.subscriber()
    await subscriber.subscribe('before')
    await server.kill()
    // Issued during the outage: queued (offline queue on), not failed.
    const during = subscriber.subscribe('during')
    await server.restart()
    await during
    expect(await eventually(() => app.keydb.status === 'ready', RECONNECT_MAX_DELAY_MS + 1_000)).toBe(true)
    for (const channel of ['before', 'during']) {
      const received = nextMessage(subscriber, channel)
      expect(await app.keydb.publish(channel, channel)).toBe(1)
      expect(await received).toBe(channel)
    }
  })

  test('subscriber() after close is a coded error', async () => {
    const { app } = await appWith({ url: await redisUrl() })
    await app.close()
    expect(() => app.keydb.subscriber()).toThrowError(expect.objectContaining({ code: 'FST_KEYDB_CLOSED' }))
  })

  test('each namespace has its own subscriber', async () => {
    const url = await redisUrl()
    const { app } = await appWith({ url, namespace: 'a' })
    const a = app.keydb.a
    expect(a?.subscriber()).toBe(a?.subscriber())
    expect(a?.subscriber()).not.toBe(a)
  })
})
