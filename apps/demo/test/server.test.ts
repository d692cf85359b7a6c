import { freePort } from '@fastkey/test-services'
import { expect, it } from 'vitest'
import { spawnServer } from './helpers/server-process.js'

it('server.ts starts on PGlite, logs one line, serves, and exits 0 on SIGTERM', async () => {
  const port = await freePort()
  const server = spawnServer({ PORT: String(port), SEED_PRODUCTS: '100' })
  const line = await server.waitForLine(/demo listening/, 45_000)
  const { msg } = JSON.parse(line) as { msg: string }
  expect(msg).toContain(`:${port}`)
  expect(msg).toContain('db: pglite in-memory')
  expect(msg).toContain('cache: ')
  expect(msg).toContain('seeded 100 products in 20 categories')
  expect(server.stdoutLines.filter(Boolean)).toHaveLength(1)

  const health = await fetch(`http://127.0.0.1:${port}/health`)
  expect(health.status).toBe(200)
  expect(await health.json()).toMatchObject({ status: 'ok', db: { ok: true } })
  const product = await fetch(`http://127.0.0.1:${port}/products/100`)
  expect(await product.json()).toMatchObject({ id: 100, sku: 'SKU-000100' })

  server.child.kill('SIGTERM')
  expect(await server.exited).toEqual({ code: 0, signal: null })
})
