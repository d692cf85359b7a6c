// Regression test of a reliability finding (fixed): see RELIABILITY.md.
import { Cache, KeydbStore } from '@fastkey/fastify-cache'
import { cleanupPrefix, redisUrl } from '@fastkey/test-services'
import { Redis } from 'ioredis'
import { expect, it } from 'vitest'

it('a fill that started before delete() is not stored, even if KeyDB evicts the generation key meanwhile', async () => {
  const client = new Redis(await redisUrl())
  const namespace = `repro-gen-${Date.now()}`
  const cache = new Cache({ store: new KeydbStore({ client, keyPrefix: namespace }) })
  await cache.ready()
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  try {
    const first = cache.getOrSet('k', async () => {
      const seen = 'old' // the row as it was when the load started
      await gate
      return seen
    })
    await new Promise((r) => setTimeout(r, 20)) // lock taken, generation '' captured
    await cache.delete('k') // writes a new generation: the fill above must lose
    // Memory pressure: allkeys-lru/allkeys-random, or any volatile-* policy (the generation has a 1 h
    // TTL), may evict the generation key. It is then indistinguishable from "never deleted" ('').
    await client.del(`${namespace}:g:{k}`)
    release()
    await first
    expect(await cache.get('k')).toBeUndefined() // observed: 'old', stored after the delete resolved
  } finally {
    await cache.close()
    await cleanupPrefix(client, `${namespace}:`)
    client.disconnect()
  }
})
