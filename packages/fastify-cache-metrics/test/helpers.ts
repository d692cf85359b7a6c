import {
  type CacheStore,
  type FastifyCacheOptions,
  fastifyCache,
  KeydbStore,
  MemoryStore,
} from '@fastkey/fastify-cache'
import { busOf } from '@fastkey/fastify-cache/testing'
import { cleanupPrefix, redisUrl, uniquePrefix } from '@fastkey/test-services'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Registry, register } from 'prom-client'
import { expect, onTestFinished } from 'vitest'
import { type FastifyCacheMetricsOptions, fastifyCacheMetrics, METRIC_NAMES } from '../src/index.js'

export const P = 'fastkey_cache_'

export interface MetricsAppOptions {
  store?: CacheStore
  cache?: Omit<FastifyCacheOptions, 'store'>
  metrics?: FastifyCacheMetricsOptions
  routes?: (app: FastifyInstance) => void
}

/** A fresh app with fastify-cache and the metrics plugin on its own registry, closed when the test ends. */
export async function buildApp(options: MetricsAppOptions = {}): Promise<{
  app: FastifyInstance
  registry: Registry
}> {
  const registry = (options.metrics?.registry as Registry | undefined) ?? new Registry()
  const app = Fastify({ logger: false })
  onTestFinished(() => app.close())
  await app.register(fastifyCache, { store: options.store ?? new MemoryStore(), ...options.cache })
  await app.register(fastifyCacheMetrics, { registry, ...options.metrics })
  options.routes?.(app)
  await app.ready()
  await app.cache.ready()
  await busHealthy(app)
  return { app, registry }
}

/** Waits until the engine's bus is confirmed (L1 is used only then), at most 5 s. */
export async function busHealthy(app: FastifyInstance): Promise<void> {
  const deadline = performance.now() + 5_000
  while (!busOf(app.cache).healthy) {
    if (performance.now() > deadline) throw new Error('the cache bus did not become healthy')
    await sleep(5)
  }
}

/** A KeydbStore on the shared Redis under a namespace of its own, removed when the test ends. */
export async function keydbStore(): Promise<{ store: KeydbStore; client: Redis }> {
  const client = new Redis(await redisUrl(), { lazyConnect: true })
  await client.connect()
  const namespace = uniquePrefix('metrics').slice(0, -1)
  const store = new KeydbStore({ client, keyPrefix: namespace })
  onTestFinished(async () => {
    await store.close()
    await cleanupPrefix(client, `${namespace}:`)
    await client.quit()
  })
  return { store, client }
}

/** Injects a GET and waits for the background write and lock release it started. */
export async function get(app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url, headers })
  await app.cache.drain()
  return response
}

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the Prometheus text exposition format (what `/metrics` serves). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match) throw new Error(`unparsable exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const m of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return samples
}

function labelKey(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort()
  return keys.map((k) => `${k}=${labels[k]}`).join(',')
}

/** Scrapes the app's metrics route: every sample of `name`, as { 'label=value,…': value }. */
export async function scrape(app: FastifyInstance, path = '/metrics') {
  const response = await app.inject(path)
  expect(response.statusCode).toBe(200)
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
  const samples = parseExposition(response.body)
  return {
    samples,
    /** Every series of one metric name, keyed by its sorted labels. */
    series(name: string): Record<string, number> {
      const out: Record<string, number> = {}
      for (const s of samples) if (s.name === name) out[labelKey(s.labels)] = s.value
      return out
    },
    /** The value of one series, `undefined` if absent. */
    value(name: string, labels: Record<string, string> = {}): number | undefined {
      const key = labelKey(labels)
      return samples.find((s) => s.name === name && labelKey(s.labels) === key)?.value
    },
  }
}

/** Our metric names in prom-client's global registry (must stay empty: tests use their own). */
export function ourGlobalMetrics(): string[] {
  return register
    .getMetricsAsArray()
    .map((m) => (m as unknown as { name: string }).name)
    .filter((name) => METRIC_NAMES.some((suffix) => name.endsWith(suffix)))
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
