import type { Redis } from 'ioredis'
import { beforeAll, describe, expect } from 'vitest'
import { adminClient, buildApp, FAST, namespaceKeys } from '../src/apps.js'
import { expectOk, load, shoot, sleep, waitUntil } from '../src/load.js'
import { Origin } from '../src/origin.js'
import { scenario } from '../src/scenario.js'
import { warmUp } from '../src/warm-up.js'

const ORIGIN_MS = 5
const LATENCY_BOUND_MS = FAST.commandTimeoutMs + ORIGIN_MS + 120

async function usedMemory(admin: Redis): Promise<number> {
  const info = await admin.info('memory')
  return Number(/used_memory:(\d+)/.exec(info)![1])
}

function versionOf(body: string): number {
  return (JSON.parse(body) as { version: number }).version
}

describe('KeyDB modes: replica, out of memory, eviction', () => {
  beforeAll(warmUp)

  scenario(
    {
      id: 'read-only-replica',
      area: 'server',
      title: 'Read-only replica',
      did: 'instance A on a master, instance B on its replica (`--replicaof`, read-only); A fills 10 keys; B reads them, then 100 requests (5 concurrent) over 20 new keys, then delete()',
      criterion:
        "0 non-2xx; B serves A's fills as HITs; B's fills fail with READONLY quietly (counted, nothing thrown); B's delete() rejects (never a silent success); every request within commandTimeoutMs + origin + 120 ms",
    },
    async (ctx) => {
      const { fig } = ctx
      // Sync at once instead of after the default 5 s diskless-sync delay.
      const master = await ctx.redis({ args: ['--repl-diskless-sync-delay', '0'] })
      const replica = await ctx.redis({ args: ['--replicaof', '127.0.0.1', String(master.port)] })
      const replicaAdmin = await adminClient(ctx, replica.url)
      const linked = await waitUntil(
        async () => (await replicaAdmin.info('replication')).includes('master_link_status:up'),
        10_000,
        50,
      )
      expect(linked).toBeDefined()
      const origin = new Origin(fig, ORIGIN_MS)
      const a = await buildApp(ctx, { keydb: { url: master.url }, routes: (app) => origin.route(app) })
      const b = await buildApp(ctx, { keydb: { url: replica.url }, routes: (app) => origin.route(app) })
      const readOnly: string[] = []
      b.cache.events.on('error', (e) => {
        if (String((e.error as Error).message).includes('READONLY')) readOnly.push(e.operation)
      })
      expectOk(fig, await load(10, 5, (i) => shoot(a, `/items/${i}`, fig)), 'A fills')
      await a.cache.drain()
      const synced = await waitUntil(
        async () => (await namespaceKeys(replicaAdmin, 'fk', 'e')).length === 10,
        5_000,
      )
      expect(synced).toBeDefined()
      const fromA = await load(10, 5, (i) => shoot(b, `/items/${i}`, fig))
      expectOk(fig, fromA, "B reads A's fills")
      const hits = fromA.filter((s) => s.xCache === 'HIT').length
      const shots = await load(100, 5, (i) => shoot(b, `/items/new-${i % 20}`, fig))
      expectOk(fig, shots, 'B on new keys')
      let deleteRejected = false
      try {
        await b.cache.delete('anything')
      } catch {
        deleteRejected = true
      }
      fig.set("HITs of A's fills through B", `${hits}/10`)
      fig.set('READONLY failures counted', readOnly.length)
      fig.set('operations refused', [...new Set(readOnly)].join(', '))
      fig.set("B's delete() rejected", deleteRejected)

      expect(fig.details).toEqual([])
      expect(hits).toBe(10)
      expect(readOnly.length).toBeGreaterThan(0)
      expect(deleteRejected).toBe(true)
      expect(Math.max(...shots.map((s) => s.latencyMs))).toBeLessThan(LATENCY_BOUND_MS)
    },
  )

  scenario(
    {
      id: 'oom-noeviction',
      area: 'server',
      title: 'Out of memory with noeviction',
      did: '10 keys filled, then `CONFIG SET maxmemory` just under the memory in use (`noeviction`): every write is refused with OOM; 200 requests (10 concurrent) over 40 keys; delete() of a cached key',
      criterion:
        '0 non-2xx; fills fail quietly (counted, nothing thrown); delete() works; the logger gets at most one line per failure kind (rate-limited)',
    },
    async (ctx) => {
      const { fig } = ctx
      const server = await ctx.redis({ args: ['--maxmemory-policy', 'noeviction'] })
      const admin = await adminClient(ctx, server.url)
      const origin = new Origin(fig, ORIGIN_MS)
      const logLines: string[] = []
      const logger = {
        warn: (obj: object, msg?: string) => void logLines.push(`${(obj as { kind?: string }).kind}: ${msg}`),
        error: (obj: object, msg?: string) =>
          void logLines.push(`${(obj as { kind?: string }).kind}: ${msg}`),
      }
      const app = await buildApp(ctx, {
        keydb: { url: server.url },
        cache: { logger },
        routes: (app) => origin.route(app),
      })
      const oom: string[] = []
      app.cache.events.on('error', (e) => {
        // Redis: "OOM command not allowed ..."; KeyDB wraps a refusal inside a script:
        // "ERR Error running script (call to f_<sha>): @user_script:1: @user_script: 1: -OOM command ...".
        if (/(^|-)OOM /.test(String((e.error as Error).message))) oom.push(e.operation)
      })
      const keys: string[] = []
      const off = app.cache.events.on('miss', (e) => void keys.push(e.key))
      expectOk(fig, await load(10, 1, (i) => shoot(app, `/items/${i}`, fig)), 'fill')
      off()
      await app.cache.drain()
      await admin.config('SET', 'maxmemory', String((await usedMemory(admin)) - 100_000))
      expect(await admin.set('probe', 'x').catch((e: Error) => e.message)).toMatch(/^OOM/)

      const shots = await load(200, 10, (i) => shoot(app, `/items/${i % 40}`, fig))
      expectOk(fig, shots, 'under OOM')
      const cachedHits = shots.filter((s, i) => i % 40 < 10 && s.xCache === 'HIT').length
      const deleted = await app.cache.delete(keys[3]!)
      const afterDelete = await shoot(app, '/items/3', fig)
      // Not asserted: write failures (lock, set) trip the breaker, which then skips reads too.
      fig.set('HITs of the 10 cached keys (of 50 reads)', cachedHits)
      fig.set('OOM failures counted', oom.length)
      fig.set('operations refused', [...new Set(oom)].join(', '))
      fig.set('delete() removed', deleted)
      fig.set('log lines', logLines.length)

      expect(fig.details).toEqual([])
      expect(oom.length).toBeGreaterThan(0)
      expect(deleted).toBe(1)
      expect(afterDelete.xCache).toBe('MISS')
      expect(logLines.length).toBeLessThanOrEqual(new Set(oom).size + 1)
      expect(Math.max(...shots.map((s) => s.latencyMs))).toBeLessThan(LATENCY_BOUND_MS)
    },
  )

  scenario(
    {
      id: 'allkeys-lru-tag-eviction',
      area: 'server',
      title: 'allkeys-lru eviction of tag data',
      did: '100 tagged entries (item:<id>, group:<id mod 5>; ~2 KB each) under `allkeys-lru`; group:0 and 10 items hard-invalidated after their rows changed; 1.1 s later the entries are touched (so tag versions are the least recently used keys), maxmemory is set just above the memory in use and 1 KB keys are written until half the tag versions are evicted; every key read',
      criterion:
        'eviction took tag versions while their entries stayed (the scenario bites); every such entry is a miss (fails safe), and no entry whose tag was invalidated is ever served; 0 non-2xx',
    },
    async (ctx) => {
      const { fig } = ctx
      const server = await ctx.redis({ args: ['--maxmemory-policy', 'allkeys-lru'] })
      const admin = await adminClient(ctx, server.url)
      const versions = new Map<string, number>()
      const tagsOf = (id: number) => [`item:${id}`, `group:${id % 5}`]
      const app = await buildApp(ctx, {
        keydb: { url: server.url },
        tags: true,
        routes: (app) =>
          app.get(
            '/items/:id',
            { config: { cache: { tags: (req) => tagsOf(Number((req.params as { id: string }).id)) } } },
            async (req) => {
              fig.origin()
              const id = (req.params as { id: string }).id
              return { id, version: versions.get(id) ?? 1, pad: 'x'.repeat(2_000) }
            },
          ),
      })
      const ids = Array.from({ length: 100 }, (_, i) => String(i))
      const keys = new Map<string, string>()
      const off = app.cache.events.on('miss', (e) => void keys.set(ids[keys.size]!, e.key))
      expectOk(fig, await load(100, 1, (i) => shoot(app, `/items/${ids[i]}`, fig)), 'fill')
      off()
      await app.cache.drain()
      const invalidated = new Set(ids.filter((id) => Number(id) % 5 === 0 || Number(id) % 10 === 1))
      for (const id of invalidated) versions.set(id, 2)
      const itemTags = [...invalidated].filter((id) => Number(id) % 10 === 1).map((id) => `item:${id}`)
      await app.cache.invalidateTags(['group:0', ...itemTags])

      // Redis' LRU clock ticks once a second: after 1.1 s, touched entries are younger than any tag version.
      await sleep(1_100)
      for (const key of keys.values()) await admin.get(`fk:e:{${key}}`)
      const tagKeysBefore = (await namespaceKeys(admin, 'fk', 't')).length
      await admin.config('SET', 'maxmemory', String((await usedMemory(admin)) + 50_000))
      let written = 0
      const junk = 'j'.repeat(1_000)
      while (written < 5_000) {
        for (let i = 0; i < 20; i++) await admin.set(`junk:${written++}`, junk)
        if ((await namespaceKeys(admin, 'fk', 't')).length <= tagKeysBefore / 2) break
      }
      const tagKeys = new Set(await namespaceKeys(admin, 'fk', 't'))
      const entryKeys = new Set(await namespaceKeys(admin, 'fk', 'e'))
      // Entries still in KeyDB although one of their tag versions was evicted: where fail-safe bites.
      const orphaned = new Set(
        ids.filter(
          (id) =>
            entryKeys.has(`fk:e:{${keys.get(id)}}`) &&
            tagsOf(Number(id)).some((tag) => !tagKeys.has(`fk:t:{${tag}}`)),
        ),
      )

      const shots = await load(100, 10, (i) => shoot(app, `/items/${ids[i]}`, fig))
      expectOk(fig, shots, 'after eviction')
      let orphanServed = 0
      shots.forEach((s, i) => {
        const id = ids[i]!
        if (orphaned.has(id) && s.xCache === 'HIT') orphanServed++
        if (invalidated.has(id) && versionOf(s.body) !== 2)
          fig.violation(`item ${id}: invalidated v1 served (${s.xCache})`)
      })
      if (orphanServed > 0) fig.violation(`${orphanServed} entries served although a tag version was evicted`)
      fig.set('keys evicted', Number(/evicted_keys:(\d+)/.exec(await admin.info('stats'))![1]))
      fig.set('tag version keys before / after', `${tagKeysBefore} / ${tagKeys.size}`)
      fig.set('entries kept whose tag version was evicted', orphaned.size)
      fig.set('invalidated entries', invalidated.size)

      expect(fig.details).toEqual([])
      expect(orphaned.size).toBeGreaterThan(0)
    },
  )
})
