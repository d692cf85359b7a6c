// Regression test of a reliability finding (fixed): see RELIABILITY.md.
import { createTagProvider, fastifyCacheTags } from '@fastkey/cache-tags'
import { fastifyCache, MemoryStore } from '@fastkey/fastify-cache'
import Fastify from 'fastify'
import { expect, it } from 'vitest'

it('a request that arrives after invalidateTags() resolved must not get a response loaded before it', async () => {
  const app = Fastify()
  await app.register(fastifyCache, { store: new MemoryStore(), tags: createTagProvider() })
  await app.register(fastifyCacheTags)
  let price = 'old'
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  app.get('/p', { config: { cache: { tags: () => ['p'] } } }, async () => {
    const seen = price
    await gate
    return { price: seen }
  })
  await app.ready()
  const first = app.inject('/p')
  await new Promise((r) => setTimeout(r, 20)) // the first request's handler has read 'old'
  price = 'new'
  await app.cache.invalidateTags(['p'])
  const second = app.inject('/p')
  await new Promise((r) => setTimeout(r, 20))
  release()
  expect((await first).json()).toEqual({ price: 'old' })
  expect((await second).json()).toEqual({ price: 'new' })
  await app.close()
})
