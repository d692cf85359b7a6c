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
  }
  export default function autocannon(options: Options): Promise<Result>
}
