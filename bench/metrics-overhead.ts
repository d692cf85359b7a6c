/**
 * Cost of @fastkey/fastify-cache-metrics on the hottest path: a cached route answered from the
 * in-process tier (L1 hit), with and without the plugin.
 *
 *   node --conditions=@fastkey/source --import tsx metrics-overhead.ts [--duration 5] [--rounds 6]
 *     [--connections 10] [--warmup 3]
 *
 * Both servers run in child processes of their own (the load generator must not share their event
 * loop) for the whole run and are loaded in turn, in alternating order: a drift of the machine's load
 * hits both variants of a round alike. Three figures per round:
 * - throughput (req/s), what the 5 % target is about, but noisy on a shared machine;
 * - server CPU time per request (µs), from the child's `process.cpuUsage()`: steadier, since a server
 *   descheduled by a neighbour serves fewer requests but spends no CPU meanwhile;
 * - and once, the cost of one hit event through the plugin's listener, in process (ns).
 * Uses autocannon when installed, else a keep-alive `http.request` loop.
 */
import { type ChildProcess, fork } from 'node:child_process'
import http from 'node:http'
import { parseArgs } from 'node:util'
import { Cache, fastifyCache } from '@fastkey/fastify-cache'
import { fastifyCacheMetrics } from '@fastkey/fastify-cache-metrics'
import Fastify from 'fastify'
import { Registry } from 'prom-client'

type Variant = 'without' | 'with'
const URL_PATH = '/products/42'

// ---------------------------------------------------------------- server (child process)

async function serve(variant: Variant): Promise<void> {
  const app = Fastify({ logger: false })
  await app.register(fastifyCache, { l1: { maxEntries: 1_000 }, defaults: { ttlMs: 3_600_000 } })
  if (variant === 'with') await app.register(fastifyCacheMetrics, { registry: new Registry() })
  app.get('/products/:id', { config: { cache: {} } }, async (req) => ({
    id: (req.params as { id: string }).id,
    name: 'A product with a realistic body',
    tags: ['a', 'b', 'c'],
    price: 1999,
  }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  await app.cache.ready()
  const address = app.server.address()
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 })
  process.on('message', () => {
    const { user, system } = process.cpuUsage()
    process.send?.({ cpuUs: user + system })
  })
  process.on('disconnect', () => {
    void app.close().then(() => process.exit(0))
  })
}

interface Server {
  port: number
  /** CPU time the server process has used so far, µs. */
  cpuUs(): Promise<number>
  stop(): void
}

function reply<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve) => child.once('message', (message) => resolve(message as T)))
}

async function startServer(variant: Variant): Promise<Server> {
  const child = fork(process.argv[1]!, ['--serve', variant], { stdio: 'inherit' })
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`the ${variant} server exited with ${code}`))),
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

function request(agent: http.Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
}

/** Requests answered in `seconds` by `connections` keep-alive clients; throws on a non-200. */
async function loopLoad(port: number, seconds: number, connections: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const end = performance.now() + seconds * 1000
  let done = 0
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const { status } = await request(agent, port, URL_PATH)
        if (status !== 200) throw new Error(`status ${status}`)
        done++
      }
    }),
  )
  agent.destroy()
  return done
}

type Autocannon = (options: Record<string, unknown>) => Promise<{
  requests: { total: number }
  non2xx: number
  errors: number
}>

async function loadAutocannon(): Promise<Autocannon | undefined> {
  const name = 'autocannon' // through a variable: autocannon ships no types, and it is optional here
  try {
    return ((await import(name)) as { default: Autocannon }).default
  } catch {
    return undefined
  }
}

/** Loads `server` for `seconds`: requests per second and server CPU µs per request. */
async function measure(
  autocannon: Autocannon | undefined,
  server: Server,
  seconds: number,
  connections: number,
): Promise<{ rps: number; cpuPerRequestUs: number }> {
  const cpuBefore = await server.cpuUs()
  let requests: number
  if (autocannon) {
    const url = `http://127.0.0.1:${server.port}${URL_PATH}`
    const result = await autocannon({ url, connections, duration: seconds })
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`)
    requests = result.requests.total
  } else {
    requests = await loopLoad(server.port, seconds, connections)
  }
  const cpu = (await server.cpuUs()) - cpuBefore
  return { rps: requests / seconds, cpuPerRequestUs: cpu / requests }
}

/** The metrics really counted the L1 hits; also times one scrape. */
async function checkScrape(port: number): Promise<void> {
  const started = performance.now()
  const { status, body } = await request(new http.Agent(), port, '/metrics')
  const ms = performance.now() - started
  const line = body
    .split('\n')
    .find((l) => l.startsWith('fastkey_cache_hits_total{') && l.includes('tier="l1"'))
  const hits = line?.split(' ')[1]
  if (status !== 200 || hits === undefined) throw new Error('the metrics route did not count L1 hits')
  console.log(`/metrics of the "with" server: ${hits} L1 hits counted, one scrape ${ms.toFixed(1)} ms`)
}

// ---------------------------------------------------------------- in-process cost of one event

/** ns per L1-hit event as the route hook emits it, without and with the plugin listening. */
async function eventCost(): Promise<{ without: number; with: number }> {
  const N = 2_000_000
  const run = (cache: Cache) => {
    const events = cache.events
    const started = performance.now()
    for (let i = 0; i < N; i++)
      if (events.has('hit'))
        events.emit('hit', { key: 'r|/products/:id|42', tier: 'l1', route: '/products/:id' })
    return ((performance.now() - started) * 1e6) / N
  }
  const bare = new Cache()
  const app = Fastify()
  await app.register(fastifyCache)
  await app.register(fastifyCacheMetrics, { registry: new Registry(), exposeRoute: false })
  await app.ready()
  run(bare)
  run(app.cache) // warm-up of both paths
  const result = { without: run(bare), with: run(app.cache) }
  await bare.close()
  await app.close()
  return result
}

// ---------------------------------------------------------------- main

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '6' },
      connections: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
    },
  })
  const [seconds, rounds, connections, warmup] = [
    values.duration,
    values.rounds,
    values.connections,
    values.warmup,
  ].map(Number) as [number, number, number, number]
  const autocannon = await loadAutocannon()
  console.log(
    `L1-hit route, ${connections} connections, ${rounds} rounds of ${seconds} s per variant after ${warmup} s ` +
      `warm-up each, load by ${autocannon ? 'autocannon' : 'http.request loop'}`,
  )
  const servers = { without: await startServer('without'), with: await startServer('with') }
  const rps: Record<Variant, number[]> = { without: [], with: [] }
  const cpu: Record<Variant, number[]> = { without: [], with: [] }
  const ratios: number[] = []
  try {
    for (const variant of ['without', 'with'] as const) {
      const first = await request(new http.Agent(), servers[variant].port, URL_PATH)
      if (first.status !== 200) throw new Error(`warm-up request: status ${first.status}`)
      await measure(autocannon, servers[variant], warmup, connections)
    }
    for (let round = 0; round < rounds; round++) {
      const order: Variant[] = round % 2 === 0 ? ['without', 'with'] : ['with', 'without']
      for (const variant of order) {
        const result = await measure(autocannon, servers[variant], seconds, connections)
        rps[variant].push(result.rps)
        cpu[variant].push(result.cpuPerRequestUs)
      }
      const ratio = rps.with[round]! / rps.without[round]!
      ratios.push(ratio)
      const show = (v: Variant) =>
        `${v} ${rps[v][round]!.toFixed(0).padStart(6)} req/s ${cpu[v][round]!.toFixed(1).padStart(5)} µs CPU/req`
      console.log(`round ${round + 1}  ${show('without')}  |  ${show('with')}  |  ratio ${ratio.toFixed(3)}`)
    }
    await checkScrape(servers.with.port)
  } finally {
    servers.without.stop()
    servers.with.stop()
  }
  const ratio = median(ratios)
  const [cpuWithout, cpuWith] = [median(cpu.without), median(cpu.with)]
  console.log(
    `median throughput: without ${median(rps.without).toFixed(0)} req/s, with ${median(rps.with).toFixed(0)} req/s, ` +
      `ratio ${ratio.toFixed(3)} (cost ${((1 - ratio) * 100).toFixed(1)} %)`,
  )
  console.log(
    `median server CPU per request: without ${cpuWithout.toFixed(1)} µs, with ${cpuWith.toFixed(1)} µs ` +
      `(cost ${(((cpuWith - cpuWithout) / cpuWithout) * 100).toFixed(1)} %)`,
  )
  const events = await eventCost()
  console.log(
    `one L1-hit event in process: ${events.without.toFixed(1)} ns without listener, ` +
      `${events.with.toFixed(1)} ns with the plugin (+${(events.with - events.without).toFixed(1)} ns per request)`,
  )
}

const serveIndex = process.argv.indexOf('--serve')
if (serveIndex >= 0) await serve(process.argv[serveIndex + 1] === 'with' ? 'with' : 'without')
else await main()
