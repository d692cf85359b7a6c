/** Child process: one autocannon run, printing a LoadResult as its last line. */
import autocannon from 'autocannon'

const o = JSON.parse(process.argv[2]!) as {
  url: string
  path: string
  keys: number
  durationS?: number
  amount?: number
  connections: number
}
const requests = Array.from({ length: o.keys }, (_, i) => ({
  method: 'GET' as const,
  path: `${o.path}${i + 1}`,
}))
const result = await autocannon({
  url: o.url,
  connections: o.connections,
  ...(o.amount ? { amount: o.amount } : { duration: o.durationS ?? 5 }),
  requests,
})
const durationS = result.duration
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    durationS,
    rps: result.requests.total / durationS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  })}\n`,
)
