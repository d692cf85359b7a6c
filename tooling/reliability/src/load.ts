import http from 'node:http'
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { Figures } from './figures.js'

/** One response as the scenarios check it. */
export interface Shot {
  status: number
  latencyMs: number
  xCache: string | undefined
  headers: Record<string, string | string[] | undefined>
  body: string
  /** The body's bytes (real HTTP only). */
  raw?: Buffer
}

/** `app.inject()` timed; counted in `fig` when given. */
export async function shoot(
  app: FastifyInstance,
  request: string | InjectOptions,
  fig?: Figures,
): Promise<Shot> {
  const started = performance.now()
  const response = await app.inject(request as InjectOptions)
  const shot: Shot = {
    status: response.statusCode,
    latencyMs: performance.now() - started,
    xCache: header(response.headers['x-cache']),
    headers: response.headers as Shot['headers'],
    body: response.body,
  }
  fig?.observe(shot)
  return shot
}

/**
 * A real HTTP GET over a fresh connection (no keep-alive pool: a pooled socket would outlive the
 * scenario and show up as a leftover). Bounded by `timeoutMs`.
 */
export function httpGet(url: string, fig?: Figures, timeoutMs = 10_000, raw = false): Promise<Shot> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const bytes = Buffer.concat(chunks)
        const shot: Shot = {
          status: res.statusCode ?? 0,
          latencyMs: performance.now() - started,
          xCache: header(res.headers['x-cache']),
          headers: res.headers,
          // Decoding megabytes of binary as text would cost the event loop for nothing.
          body: raw ? '' : bytes.toString('utf8'),
          ...(raw && { raw: bytes }),
        }
        fig?.observe(shot)
        resolve(shot)
      })
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer after ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

/** Sends `count` requests, `concurrency` at a time; `send(i)` makes the i-th one. */
export async function load(
  count: number,
  concurrency: number,
  send: (i: number) => Promise<Shot>,
): Promise<Shot[]> {
  const shots: Shot[] = new Array(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++
        shots[i] = await send(i)
      }
    }),
  )
  return shots
}

/** Sends requests, `concurrency` at a time, until `ms` have passed; `send(i)` makes the i-th one. */
export async function loadFor(
  ms: number,
  concurrency: number,
  send: (i: number) => Promise<Shot>,
): Promise<Shot[]> {
  const shots: Shot[] = []
  const until = performance.now() + ms
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) shots.push(await send(next++))
    }),
  )
  return shots
}

/**
 * Starts `count` requests at once, `perTurn` per event-loop turn (requests reach a server spread over
 * a few ms, not in one tick): all are in flight together, but one turn never has to process hundreds
 * of them, which would stall this process's event loop (load generator and every app share it).
 */
export async function burst(
  count: number,
  send: (i: number) => Promise<Shot>,
  perTurn = 20,
): Promise<Shot[]> {
  const pending: Array<Promise<Shot>> = []
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % perTurn === 0) await new Promise((r) => setImmediate(r))
    pending.push(send(i))
  }
  return Promise.all(pending)
}

/** Counts every non-2xx shot as an error in `fig` (with its status and URL-ish label). */
export function expectOk(fig: Figures, shots: readonly Shot[], label: string): void {
  for (const shot of shots) {
    if (shot.status < 200 || shot.status > 299)
      fig.error(`${label}: status ${shot.status} ${shot.body.slice(0, 120)}`)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export { deferred, waitUntil } from '@fastkey/test-services'

function header(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(',') : String(value)
}
