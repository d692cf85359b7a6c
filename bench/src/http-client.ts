/**
 * Child process load client for the miss-path scenarios (wrk cannot tell one response from another):
 *   burst: keep-alive sockets opened first, then `total` requests at once spread over the servers;
 *   loop:  `concurrency` request loops for `durationS`, latency recorded per `x-cache` value.
 * Prints one JSON line.
 */
import http from 'node:http'
import { percentile } from './stats.js'

interface Options {
  kind: 'burst' | 'loop'
  urls: string[]
  path: string
  total?: number
  concurrency?: number
  durationS?: number
}

interface Done {
  ms: number
  endAt: number
  status: number
  xcache: string
}

const o = JSON.parse(process.argv[2]!) as Options
const agents = o.urls.map(
  () =>
    new http.Agent({
      keepAlive: true,
      maxSockets: Number.POSITIVE_INFINITY,
      // The default keeps only 256 idle sockets: the burst would open the rest during the measurement.
      maxFreeSockets: Number.POSITIVE_INFINITY,
    }),
)

function get(server: number, path: string): Promise<Done> {
  const url = new URL(path, o.urls[server])
  const start = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agents[server], headers: { host: 'bench.example' } }, (res) => {
      res.resume()
      res.on('end', () => {
        const end = performance.now()
        resolve({
          ms: end - start,
          endAt: end,
          status: res.statusCode ?? 0,
          xcache: String(res.headers['x-cache'] ?? ''),
        })
      })
    })
    req.on('error', reject)
  })
}

function summary(done: Done[]) {
  const groups: Record<string, { count: number; p50Ms: number; p99Ms: number; maxMs: number }> = {}
  for (const xcache of new Set(done.map((d) => d.xcache))) {
    const ms = done.filter((d) => d.xcache === xcache).map((d) => d.ms)
    groups[xcache || 'none'] = {
      count: ms.length,
      p50Ms: percentile(ms, 50),
      p99Ms: percentile(ms, 99),
      maxMs: Math.max(...ms),
    }
  }
  const ms = done.map((d) => d.ms)
  return {
    count: done.length,
    non200: done.filter((d) => d.status !== 200).length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: Math.max(...ms),
    byXCache: groups,
  }
}

async function burst() {
  const total = o.total ?? 1000
  const n = o.urls.length
  // Open every socket first, so the burst measures the cache and not TCP handshakes.
  await Promise.all(Array.from({ length: total }, (_, i) => get(i % n, '/__bench')))
  const start = performance.now()
  const done = await Promise.all(Array.from({ length: total }, (_, i) => get(i % n, o.path)))
  const lastMs = Math.max(...done.map((d) => d.endAt)) - start
  return { lastMs, ...summary(done) }
}

async function loop() {
  const until = performance.now() + (o.durationS ?? 5) * 1000
  const done: Done[] = []
  let i = 0
  await Promise.all(
    Array.from({ length: o.concurrency ?? 32 }, async () => {
      while (performance.now() < until) done.push(await get(i++ % o.urls.length, o.path))
    }),
  )
  return summary(done)
}

const result = o.kind === 'burst' ? await burst() : await loop()
for (const agent of agents) agent.destroy()
process.stdout.write(`${JSON.stringify(result)}\n`)
