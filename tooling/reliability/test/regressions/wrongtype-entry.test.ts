// Regression test of a reliability finding (fixed): see RELIABILITY.md.
import { fastifyCache } from '@fastkey/fastify-cache'
import { fastifyKeydb } from '@fastkey/fastify-keydb'
import { cleanupPrefix, redisUrl } from '@fastkey/test-services'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { expect, it } from 'vitest'

it('a wrong-typed value at one entry key is a miss for that key only (DESIGN 9.5)', async () => {
  const url = await redisUrl()
  const namespace = `repro-wrongtype-${Date.now()}`
  const app = Fastify()
  await app.register(fastifyKeydb, { url })
  await app.register(fastifyCache, { keyPrefix: namespace })
  const keys: string[] = []
  app.cache.events.on('miss', (e) => void keys.push(e.key))
  app.get('/items/:id', { config: { cache: {} } }, async (req) => req.params)
  await app.ready()
  await app.cache.ready()
  for (let i = 0; i < 5; i++) await app.inject(`/items/${i}`)
  await app.cache.drain()
  const admin = new Redis(url)
  const poisoned = `${namespace}:e:{${keys[0]}}`
  await admin.del(poisoned)
  await admin.rpush(poisoned, 'x') // e.g. another app's list under our prefix
  await admin.pexpire(poisoned, 60_000)
  try {
    const together = await Promise.all([0, 1, 2, 3, 4].map((i) => app.inject(`/items/${i}`)))
    // Observed: ['MISS', 'MISS', 'MISS', 'MISS'] - the whole fkRead batch fails with WRONGTYPE.
    expect(together.slice(1).map((s) => s.headers['x-cache'])).toEqual(['HIT', 'HIT', 'HIT', 'HIT'])
  } finally {
    await app.close()
    await cleanupPrefix(admin, `${namespace}:`)
    admin.disconnect()
  }
})

it('the poisoned key itself is cached again after one fill (SET overwrites any type)', async () => {
  const url = await redisUrl()
  const namespace = `repro-wrongtype2-${Date.now()}`
  const app = Fastify()
  await app.register(fastifyKeydb, { url })
  await app.register(fastifyCache, { keyPrefix: namespace })
  let key: string | undefined
  app.cache.events.on('miss', (e) => {
    key ??= e.key
  })
  app.get('/items/:id', { config: { cache: {} } }, async (req) => req.params)
  await app.ready()
  await app.cache.ready()
  await app.inject('/items/0')
  await app.cache.drain()
  const admin = new Redis(url)
  const poisoned = `${namespace}:e:{${key}}`
  await admin.del(poisoned)
  await admin.rpush(poisoned, 'x')
  try {
    const seen: unknown[] = []
    for (let i = 0; i < 4; i++) {
      seen.push((await app.inject('/items/0')).headers['x-cache'])
      await app.cache.drain()
    }
    // Observed: ['MISS', 'MISS', 'MISS', 'MISS'] for as long as the foreign key lives (forever without a TTL):
    // each read fails (counted as a store failure, feeding the breaker), so the fill is never stored.
    expect(seen.at(-1)).toBe('HIT')
  } finally {
    await app.close()
    await cleanupPrefix(admin, `${namespace}:`)
    admin.disconnect()
  }
})
