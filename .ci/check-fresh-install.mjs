#!/usr/bin/env node
// Installs the packed packages into a fresh npm project, as an outside user would (issue 15): once
// with ioredis 6 and once with ioredis 5, next to fastify 5 and prom-client. Fails on any npm
// warning about peers (ERESOLVE, "peer", "conflicting") or an install error, then imports every entry
// point and builds a Fastify app with the four plugins on the memory store. Needs the npm registry
// (fastify, ioredis, prom-client come from it) and built packages (`pnpm build`).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const PACKAGES = ['support', 'fastify-keydb', 'fastify-cache', 'cache-tags', 'fastify-cache-metrics']
const IOREDIS = ['6', '5']
const PEER_WARNING =
  /ERESOLVE|peer dep|conflicting peer|invalid peer|unmet peer|Could not resolve dependency/i

const packs = mkdtempSync(join(tmpdir(), 'fastkey-fresh-packs-'))
let failed = false
try {
  const tarballs = {}
  for (const name of PACKAGES) {
    execFileSync('pnpm', ['pack', '--pack-destination', packs], {
      cwd: join(root, 'packages', name),
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const file = readdirSync(packs).find((f) => f.startsWith(`fastkey-${name}-`) && f.endsWith('.tgz'))
    if (!file) throw new Error(`pnpm pack left no tarball for ${name}`)
    tarballs[`@fastkey/${name}`] = join(packs, file)
  }
  for (const major of IOREDIS) {
    const project = mkdtempSync(join(tmpdir(), `fastkey-fresh-ioredis${major}-`))
    try {
      const dependencies = {
        ...Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`])),
        fastify: '^5.6.0',
        ioredis: `^${major}.0.0`,
        'prom-client': '^15.1.3',
      }
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify(
          { name: 'fresh', version: '1.0.0', private: true, type: 'module', dependencies },
          null,
          2,
        ),
      )
      let output
      try {
        // Warnings go to stderr: both streams, in order.
        output = execFileSync('sh', ['-c', 'npm install --no-audit --no-fund --loglevel=warn 2>&1'], {
          cwd: project,
          encoding: 'utf8',
        })
      } catch (error) {
        console.log(`FAIL ioredis ${major}: npm install failed\n${error.stdout ?? error.message}`)
        failed = true
        continue
      }
      const peerLines = output.split('\n').filter((line) => PEER_WARNING.test(line))
      if (peerLines.length > 0) {
        console.log(`FAIL ioredis ${major}: peer warnings\n${peerLines.join('\n')}`)
        failed = true
        continue
      }
      const smoke = `
        import Fastify from 'fastify'
        import { fastifyCache } from '@fastkey/fastify-cache'
        import '@fastkey/fastify-cache/extension'
        import '@fastkey/fastify-cache/testing'
        import '@fastkey/fastify-cache/tracing'
        import { createTagProvider, fastifyCacheTags } from '@fastkey/cache-tags'
        import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
        import { fastifyKeydb } from '@fastkey/fastify-keydb'
        import { createRequire } from 'node:module'
        const { version } = createRequire(process.cwd() + '/')('ioredis/package.json')
        const app = Fastify()
        await app.register(fastifyCache, { tags: createTagProvider() })
        await app.register(fastifyCacheTags)
        await app.register(fastifyCacheMetrics)
        app.get('/x', { config: { cache: { ttlMs: 1000 } } }, async () => ({ ok: true }))
        await app.ready()
        await app.inject('/x')
        const hit = await app.inject('/x')
        await app.close()
        if (hit.headers['x-cache'] !== 'HIT') throw new Error('no HIT: ' + hit.headers['x-cache'])
        if (typeof fastifyKeydb !== 'function') throw new Error('no fastifyKeydb')
        console.log('ioredis ' + version + ': every entry imports, a route caches')
      `
      try {
        const said = execFileSync(process.execPath, ['--input-type=module', '-e', smoke], {
          cwd: project,
          encoding: 'utf8',
        })
        console.log(`ok   ioredis ${major}: installed without a peer warning; ${said.trim()}`)
      } catch (error) {
        console.log(
          `FAIL ioredis ${major}: the installed packages did not run\n${error.stderr ?? error.message}`,
        )
        failed = true
      }
    } finally {
      rmSync(project, { recursive: true, force: true })
    }
  }
} finally {
  rmSync(packs, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0
