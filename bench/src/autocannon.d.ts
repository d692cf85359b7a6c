// The subset of autocannon's API the fallback loader uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    p50: number
    p99: number
  }
  interface Result {
    duration: number
    requests: { total: number }
    latency: Histogram
    errors: number
    timeouts: number
    non2xx: number
  }
  interface Options {
    url: string
    connections: number
    duration?: number
    amount?: number
    requests?: Array<{ method: 'GET'; path: string }>
    headers?: Record<string, string>
    /** Called with each connection's client; its `headers` event gives the raw response headers. */
    setupClient?: (client: { on(event: string, listener: (...args: never[]) => void): void }) => void
  }
  export default function autocannon(options: Options): Promise<Result>
}
