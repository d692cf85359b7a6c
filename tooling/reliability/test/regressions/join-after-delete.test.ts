// Regression test of a reliability finding (fixed): see RELIABILITY.md.
import { Cache, MemoryStore } from '@fastkey/fastify-cache'
import { expect, it } from 'vitest'

it('a getOrSet that starts after delete() resolved must not get a value loaded before the delete', async () => {
  const cache = new Cache({ store: new MemoryStore() })
  let db = 'old'
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  const first = cache.getOrSet('k', async () => {
    const v = db
    await gate
    return v
  })
  await new Promise((r) => setImmediate(r)) // the first load has read 'old'
  db = 'new'
  await cache.delete('k') // resolved: from now on nobody may get 'old'
  const second = cache.getOrSet('k', async () => db)
  release()
  expect(await first).toBe('old')
  expect(await second).toBe('new')
})
