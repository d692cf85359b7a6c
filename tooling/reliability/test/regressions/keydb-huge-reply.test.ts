// Regression scenario of issue 13 item 10 (unbounded memory on a huge reply), fixed: see RELIABILITY.md.
import { type FastifyKeydbOptions, failFastRedisOptions, fastifyKeydb } from '@fastkey/fastify-keydb'
import { type FakeRespConnection, startFakeRespServer } from '@fastkey/test-services'
import Fastify from 'fastify'
import type { Redis } from 'ioredis'
import { beforeAll, describe, expect } from 'vitest'
import { sleep } from '../../src/load.js'
import { scenario } from '../../src/scenario.js'
import { warmUp } from '../../src/warm-up.js'

/** The hostile server trickles this much every TRICKLE_EVERY_MS into each reply it never finishes. */
const TRICKLE_BYTES = 64 * 1024
const TRICKLE_EVERY_MS = 10
const WINDOW_MS = 5_000
/** What the process may grow by during the window (GC and the runner included). */
const RSS_GROWTH_BOUND_MB = 32
const SMALL_LIMIT = 4 * 1024 * 1024
const HUGE_HEADER = '$2000000000\r\n'

type RedisClass = new (url: string, options: Record<string, unknown>) => Redis

/**
 * ioredis 6, when the workspace has it under the alias `ioredis6` (`pnpm add -D ioredis6@npm:ioredis@^6`
 * in this package); the plugin creates ioredis 5 clients, so 6 is checked as an injected client.
 */
async function ioredis6(): Promise<RedisClass | undefined> {
  const name = 'ioredis6'
  try {
    return ((await import(/* @vite-ignore */ name)) as { Redis: RedisClass }).Redis
  } catch {
    return undefined
  }
}

function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`
}

/** SUBSCRIBE is confirmed, then a message starts whose 2 GB payload never ends. */
function subscribeThenHugeMessage(channel: string, connection: FakeRespConnection): void {
  const push = connection.resp3 ? '>3\r\n' : '*3\r\n'
  connection.write(`${push}${bulk('subscribe')}${bulk(channel)}:1\r\n`)
  connection.write(`${push}${bulk('message')}${bulk(channel)}${HUGE_HEADER}`)
  connection.trickle(Buffer.alloc(TRICKLE_BYTES, 0x61), TRICKLE_EVERY_MS)
}

/** An array reply announcing 100 million 1 KiB strings, trickled in complete: no header is too large. */
function endlessArray(connection: FakeRespConnection): void {
  connection.write('*100000000\r\n')
  connection.trickle(Buffer.from(bulk('b'.repeat(1024)).repeat(TRICKLE_BYTES / 1024)), TRICKLE_EVERY_MS)
}

const rssMb = () => process.memoryUsage().rss / 1024 / 1024

interface LogLine {
  level: number
  msg: string
  err?: { code?: string }
}

const Redis6 = await ioredis6()
const variants = [
  { id: 'ioredis5', label: 'ioredis 5 (created by the plugin)', Redis: undefined, skip: undefined },
  {
    id: 'ioredis6',
    label: 'ioredis 6 (injected client)',
    Redis: Redis6,
    skip: Redis6 ? undefined : 'ioredis 6 is not installed under the alias `ioredis6` in this workspace',
  },
]

describe('a server that sends a huge reply', () => {
  beforeAll(warmUp)

  for (const variant of variants) {
    scenario(
      {
        id: `keydb-huge-reply-${variant.id}`,
        area: 'faults',
        title: `Server announcing a 2 GB reply, ${variant.label}`,
        did: `a fake server answers GET with \`${HUGE_HEADER.trim()}\` and trickles ${TRICKLE_BYTES / 1024} KiB every ${TRICKLE_EVERY_MS} ms, sends the subscriber a message with the same header, and answers LRANGE with an endless array of 1 KiB strings (connection with maxReplyBytes 4 MiB); RSS sampled for ${WINDOW_MS / 1000} s`,
        criterion: `RSS grows < ${RSS_GROWTH_BOUND_MB} MB; the GET and the LRANGE reject (dropped connection, not a deadline); one FST_KEYDB_REPLY_TOO_LARGE error line per connection (client, subscriber, 4 MiB connection); health() ok again afterwards; no unhandled rejection`,
        skip: variant.skip,
        timeoutMs: 60_000,
      },
      async (ctx) => {
        const { fig } = ctx
        const fake = await startFakeRespServer((command, connection) => {
          const name = command[0]?.toUpperCase()
          if (name === 'GET') {
            connection.write(HUGE_HEADER)
            connection.trickle(Buffer.alloc(TRICKLE_BYTES, 0x61), TRICKLE_EVERY_MS)
          } else if (name === 'SUBSCRIBE') subscribeThenHugeMessage(command[1]!, connection)
          else if (name === 'LRANGE') endlessArray(connection)
          else return undefined
          return true
        })
        ctx.defer(() => fake.close())
        const logs: LogLine[] = []
        const app = Fastify({
          logger: { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line)) } },
        })
        ctx.defer(() => app.close())
        const connection = (commandTimeoutMs = 500): FastifyKeydbOptions => {
          if (!variant.Redis) return { url: fake.url, commandTimeoutMs }
          const options = { ...failFastRedisOptions({ commandTimeoutMs }), lazyConnect: true }
          return { client: new variant.Redis(fake.url, options), closeClient: true, commandTimeoutMs }
        }
        await app.register(fastifyKeydb, connection())
        // A long deadline: the LRANGE must end because the connection is dropped, not by timing out.
        await app.register(fastifyKeydb, {
          ...connection(10_000),
          namespace: 'small',
          maxReplyBytes: SMALL_LIMIT,
        } as FastifyKeydbOptions)
        await app.ready()
        const rssBefore = rssMb()

        const started = performance.now()
        const get = app.keydb.get('k').then(
          () => 'resolved',
          (error: Error) => `rejected after ${Math.round(performance.now() - started)} ms: ${error.message}`,
        )
        const list = app.keydb.small!.lrange('l', 0, -1).then(
          () => 'resolved',
          (error: Error) => `rejected: ${error.message}`,
        )
        void app.keydb
          .subscriber()
          .subscribe('ch')
          .catch(() => {})
        let rssMax = rssBefore
        const until = performance.now() + WINDOW_MS
        while (performance.now() < until) {
          await sleep(100)
          rssMax = Math.max(rssMax, rssMb())
        }
        const getOutcome = await Promise.race([get, sleep(0).then(() => 'still pending')])
        const listOutcome = await Promise.race([list, sleep(0).then(() => 'still pending')])
        const health = await app.keydb.health({ timeoutMs: 1_000 })
        const tooLarge = logs.filter((l) => l.err?.code === 'FST_KEYDB_REPLY_TOO_LARGE' && l.level === 50)
        const rssAfter = rssMb()

        fig.set('RSS before, MB', rssBefore)
        fig.set('RSS max during the window, MB', rssMax)
        fig.set('RSS after, MB', rssAfter)
        fig.set('RSS growth, MB', rssMax - rssBefore)
        fig.set('bytes the server sent, MB', fake.bytesSent / 1024 / 1024)
        fig.set('connections the server accepted', fake.accepted)
        fig.set('GET', getOutcome)
        fig.set('LRANGE (4 MiB limit)', listOutcome)
        fig.set('FST_KEYDB_REPLY_TOO_LARGE error lines', tooLarge.length)
        fig.set('health() after', health.ok)
        if (rssMax - rssBefore >= RSS_GROWTH_BOUND_MB)
          fig.violation(`RSS grew ${Math.round(rssMax - rssBefore)} MB`)

        expect(fig.details).toEqual([])
        expect(getOutcome).toMatch(/^rejected/)
        expect(listOutcome).toMatch(/^rejected/)
        expect(listOutcome).not.toMatch(/timed out/)
        // Client, subscriber (which resubscribes and trips again: logged once) and the 4 MiB connection.
        expect(tooLarge).toHaveLength(3)
        expect(health.ok).toBe(true)
      },
    )
  }
})
