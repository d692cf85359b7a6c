/**
 * Which registration order with @fastify/compress serves compressed hits faster: compress first
 * (the cache stores each encoding's bytes as a variant: a hit sends stored gzip/br bytes) or the
 * cache first (it stores the identity body: every hit is compressed again).
 *
 *   cd bench && node --conditions=@fastkey/source --import tsx compression.ts [--duration 3]
 *     [--rounds 3] [--connections 10] [--keys 100] [--store memory|keydb]
 *
 * Over the dimensions users vary: body size (2 KB, 64 KB), the client's encoding (gzip, br) and
 * distinct keys. Each order runs in a child process of its own for the whole run; the orders are
 * loaded in turn, alternating, and the median of the rounds is reported with the server's CPU time per
 * request (steadier than req/s on a shared machine). Every response is checked: 200, HIT after the
 * warm-up, and the content-encoding asked for.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import fastifyCompress from '@fastify/compress'
import { fastifyCache, KeydbStore } from '@fastkey/fastify-cache'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import { Redis } from 'ioredis'

type Order = 'compress-first' | 'cache-first'
const ORDERS: Order[] = ['compress-first', 'cache-first']
const BODIES = { '2KB': 40, '64KB': 1_300 } as const
type BodySize = keyof typeof BODIES
const ENCODINGS = ['gzip', 'br'] as const

function body(items: number, id: string): string {
  return JSON.stringify({
    id,
    items: Array.from({ length: items }, (_, i) => ({ id: i, name: `product ${i}`, price: 1000 + i })),
  })
}

// ---------------------------------------------------------------- server (child process)

async function serve(order: Order, storeKind: string, url: string): Promise<void> {
  const app = Fastify({ logger: false })
  const client = storeKind === 'keydb' ? new Redis(url) : undefined
  const store = client
    ? new KeydbStore({ client, keyPrefix: `bench:compression:${randomBytes(4).toString('hex')}:` })
    : undefined
  const compress = () => app.register(fastifyCompress, { encodings: ['br', 'gzip', 'identity'] })
  const cache = () =>
    app.register(fastifyCache, { ...(store ? { store } : {}), defaults: { ttlMs: 3_600_000 } })
  if (order === 'compress-first') {
    await compress()
    await cache()
  } else {
    await cache()
    await compress()
  }
  for (const [size, items] of Object.entries(BODIES))
    app.get(`/${size}/:id`, { config: { cache: {} } }, async (req, reply) => {
      reply.type('application/json')
      return body(items, (req.params as { id: string }).id)
    })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 })
  process.on('message', () => {
    const { user, system } = process.cpuUsage()
    process.send?.({ cpuUs: user + system })
  })
  process.on('disconnect', () => {
    void app
      .close()
      .then(() => client?.quit())
      .then(() => process.exit(0))
  })
}

interface Server {
  port: number
  cpuUs(): Promise<number>
  stop(): void
}

function reply<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve) => child.once('message', (message) => resolve(message as T)))
}

async function startServer(order: Order, storeKind: string, url: string): Promise<Server> {
  const child = fork(process.argv[1]!, ['--serve', order, '--store', storeKind, '--url', url], {
    stdio: 'inherit',
  })
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`the ${order} server exited with ${code}`))),
  )
  const { port } = await Promise.race([reply<{ port: number }>(child), exited])
  return {
    port,
    async cpuUs() {
      const answer = reply<{ cpuUs: number }>(child)
      child.send('cpu')
      return (await answer).cpuUs
    },
    stop() {
      child.removeAllListeners('exit')
      child.disconnect()
    },
  }
}

// ---------------------------------------------------------------- load

interface Cell {
  size: BodySize
  encoding: (typeof ENCODINGS)[number]
}

/** Loads one cell: req/s and server CPU µs per request; every response checked. */
async function measure(server: Server, cell: Cell, o: Options): Promise<{ rps: number; cpuUs: number }> {
  const requests = Array.from({ length: o.keys }, (_, i) => ({
    method: 'GET' as const,
    path: `/${cell.size}/${i}`,
  }))
  const headers = { 'accept-encoding': cell.encoding, host: 'bench.example' }
  let wrong = 0
  const check = (client: { on(event: string, fn: (...args: never[]) => void): void }) =>
    client.on('headers', (({ headers: h }: { headers: string[] }) => {
      const at = (name: string) => h[h.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === name) + 1]
      if (at('content-encoding') !== cell.encoding || at('x-cache') !== 'HIT') wrong++
    }) as never)
  // Warm-up fills every key in this encoding (and lets the JIT settle), then the measured run.
  // One connection: autocannon starts every connection at the first request of the list.
  await autocannon({
    url: `http://127.0.0.1:${server.port}`,
    connections: 1,
    amount: o.keys * 3,
    requests,
    headers,
  })
  const cpuBefore = await server.cpuUs()
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}`,
    connections: o.connections,
    duration: o.duration,
    requests,
    headers,
    setupClient: check,
  })
  const cpu = (await server.cpuUs()) - cpuBefore
  if (result.non2xx > 0 || result.errors > 0 || wrong > 0)
    throw new Error(
      `${cell.size} ${cell.encoding}: ${result.non2xx} non-2xx, ${result.errors} errors, ${wrong} not a HIT in ${cell.encoding}`,
    )
  return { rps: result.requests.total / result.duration, cpuUs: cpu / result.requests.total }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Options {
  duration: number
  rounds: number
  connections: number
  keys: number
  store: string
  url: string
}

async function main(o: Options): Promise<void> {
  const servers = {} as Record<Order, Server>
  for (const order of ORDERS) servers[order] = await startServer(order, o.store, o.url)
  const cells: Cell[] = []
  for (const size of Object.keys(BODIES) as BodySize[])
    for (const encoding of ENCODINGS) cells.push({ size, encoding })
  console.log(
    `compression order: ${o.store} store, ${o.keys} keys, ${o.connections} connections, ${o.duration} s x ${o.rounds} rounds (median)`,
  )
  console.log(
    '| body | client | compress first req/s | cache first req/s | ratio | CPU µs/req first / after |',
  )
  console.log('|---|---|---:|---:|---:|---:|')
  for (const cell of cells) {
    const runs: Record<Order, { rps: number[]; cpu: number[] }> = {
      'compress-first': { rps: [], cpu: [] },
      'cache-first': { rps: [], cpu: [] },
    }
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 ? [...ORDERS].reverse() : ORDERS
      for (const which of order) {
        const { rps, cpuUs } = await measure(servers[which], cell, o)
        runs[which].rps.push(rps)
        runs[which].cpu.push(cpuUs)
      }
    }
    const first = median(runs['compress-first'].rps)
    const after = median(runs['cache-first'].rps)
    console.log(
      `| ${cell.size} | ${cell.encoding} | ${first.toFixed(0)} | ${after.toFixed(0)} | ${(first / after).toFixed(2)}x | ${median(runs['compress-first'].cpu).toFixed(0)} / ${median(runs['cache-first'].cpu).toFixed(0)} |`,
    )
  }
  for (const server of Object.values(servers)) server.stop()
}

const { values } = parseArgs({
  options: {
    serve: { type: 'string' },
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    keys: { type: 'string', default: '100' },
    store: { type: 'string', default: 'memory' },
    url: { type: 'string', default: process.env.KEYDB_URL ?? 'redis://127.0.0.1:6379' },
  },
})
if (values.serve) await serve(values.serve as Order, values.store, values.url)
else
  await main({
    duration: Number(values.duration),
    rounds: Number(values.rounds),
    connections: Number(values.connections),
    keys: Number(values.keys),
    store: values.store,
    url: values.url,
  })
