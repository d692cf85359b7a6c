// Regression test of a reliability finding (fixed): see RELIABILITY.md.
import { fastifyCache, MemoryStore } from '@fastkey/fastify-cache'
import Fastify from 'fastify'
import { expect, it } from 'vitest'

it('under trustProxy, x-forwarded-proto cannot change what other clients get', async () => {
  const app = Fastify({ trustProxy: true })
  await app.register(fastifyCache, { store: new MemoryStore() })
  // A canonical link built from what Fastify reads: request.protocol honours x-forwarded-proto under
  // trustProxy, exactly as request.host honours x-forwarded-host (which IS part of the key).
  app.get('/page', { config: { cache: {} } }, async (req) => ({
    canonical: `${req.protocol}://${req.host}/page`,
  }))
  await app.ready()
  await app.inject({ url: '/page', headers: { 'x-forwarded-proto': 'javascript' } }) // attacker fills the entry
  const victim = await app.inject({ url: '/page' })
  await app.close()
  // Observed: { canonical: 'javascript://localhost:80/page' } served as a HIT to everyone.
  expect(victim.json()).toEqual({ canonical: 'http://localhost:80/page' })
})
