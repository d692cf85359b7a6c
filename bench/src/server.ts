/**
 * One benchmark server: `server.ts --mode <name> [--ttl ms] [--swr ms] [--origin-ms ms] [--keys n]`.
 * Listens on a free port of 127.0.0.1 and prints one JSON line: `{"ready":port}`, or
 * `{"pending":reason}` when the mode needs a package that is not built yet (exit 3).
 * `GET /__bench` answers the origin call count, CPU time and memory of this process.
 */
import { Session } from 'node:inspector/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import type { DemoCache } from './demo.js'
import { type Item, itemBodies, makeItem } from './item.js'
import { type ModeContext, modeByName, PendingError } from './modes.js'

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    prefix: { type: 'string', default: `bench-${process.pid}` },
    redis: { type: 'string', default: process.env.KEYDB_URL ?? 'redis://127.0.0.1:6379' },
    ttl: { type: 'string', default: '600000' },
    swr: { type: 'string', default: '0' },
    'origin-ms': { type: 'string', default: '0' },
    database: { type: 'string' },
    'demo-cache': { type: 'string', default: 'keydb' },
    'demo-products': { type: 'string' },
    trace: { type: 'boolean', default: false },
    /** Ids 1..keys are answered (the floor pre-serializes that many bodies). */
    keys: { type: 'string', default: '100' },
    /** Seed nodes of a cluster (host:port,…) for the cluster modes. */
    cluster: { type: 'string' },
  },
})

const originMs = Number(values['origin-ms'])
let originCalls = 0
const items = new Map<number, Item>()

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6
/** When each origin call of an id answered (CLOCK_MONOTONIC ms, comparable across processes). */
const originDone = new Map<number, number[]>()

async function origin(id: number): Promise<Item> {
  originCalls++
  let item = items.get(id)
  if (!item) {
    item = makeItem(id)
    items.set(id, item)
  }
  if (originMs > 0) await sleep(originMs)
  if (values.trace) originDone.set(id, [...(originDone.get(id) ?? []), monotonicMs()])
  return item
}

/** Per URL (traced servers): each request's arrival and response end, CLOCK_MONOTONIC ms. */
const spans = new Map<string, Array<[arrived: number, done: number]>>()
const kArrived = Symbol('arrived')

function addTracing(app: FastifyInstance): void {
  app.decorateRequest(kArrived, 0)
  app.addHook('onRequest', async (req) => {
    ;(req as unknown as Record<symbol, number>)[kArrived] = monotonicMs()
  })
  app.addHook('onResponse', async (req) => {
    if (req.url.startsWith('/__bench')) return
    const list = spans.get(req.url) ?? []
    list.push([(req as unknown as Record<symbol, number>)[kArrived]!, monotonicMs()])
    spans.set(req.url, list)
  })
}

/** CPU profile of the measured window only (no startup, no idle time between runs). */
function addProfileRoutes(app: FastifyInstance): void {
  let session: Session | undefined
  app.post('/__bench/profile/start', async () => {
    session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
    return { started: true }
  })
  app.post('/__bench/profile/stop', async () => {
    if (!session) throw new Error('profile not started')
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    session = undefined
    return profile
  })
}

function addAdminRoute(app: FastifyInstance): void {
  if (values.trace) addTracing(app)
  addProfileRoutes(app)
  app.get('/__bench', async () => ({
    origin: originCalls,
    spans: Object.fromEntries(spans),
    originDone: Object.fromEntries(originDone),
    cpu: process.cpuUsage(),
    memory: process.memoryUsage(),
    l1: app.hasDecorator('cache') ? (app as unknown as { cache: { l1Stats: unknown } }).cache.l1Stats : null,
    cacheEvents: Object.fromEntries(cacheEvents),
  }))
}

/** fastkey's store errors (operation:code) and lock waits (outcome) so far: why a miss-path figure is what it is. */
const cacheEvents = new Map<string, number>()

type CacheEvents = { on(name: string, listener: (e: Record<string, unknown>) => void): void }

function countCacheEvents(app: FastifyInstance): void {
  if (!app.hasDecorator('cache')) return
  const events = (app as unknown as { cache: { events?: CacheEvents } }).cache.events
  if (!events) return
  const count = (name: string) => cacheEvents.set(name, (cacheEvents.get(name) ?? 0) + 1)
  events.on('error', (e) => {
    const error = e.error as { code?: string; message?: string } | undefined
    count(`error ${String(e.operation)}:${error?.code ?? String(error?.message).slice(0, 80)}`)
  })
  events.on('lockWait', (e) => count(`lockWait ${String(e.outcome)}`))
  events.on('circuit', (e) => count(`circuit ${String(e.state)}`))
}

async function build(): Promise<{ app: FastifyInstance; cleanup?: () => Promise<void> }> {
  if (values.mode === 'demo')
    return (await import('./demo.js')).demoApp(
      values.database!,
      values.redis!,
      values.prefix!,
      values['demo-cache'] as DemoCache,
      addAdminRoute,
      values['demo-products'] === undefined ? undefined : Number(values['demo-products']),
    )
  const mode = modeByName(values.mode ?? '')
  const app = Fastify({ logger: false })
  addAdminRoute(app)
  const ctx: ModeContext = {
    redisUrl: values.redis!,
    prefix: values.prefix!,
    origin,
    bodies: itemBodies(Number(values.keys)),
    ...(values.cluster !== undefined && { clusterNodes: values.cluster }),
    ttlMs: Number(values.ttl),
    swrMs: Number(values.swr),
  }
  const cleanup = await mode.setup(app, ctx)
  return cleanup ? { app, cleanup } : { app }
}

function say(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

try {
  const { app, cleanup } = await build()
  countCacheEvents(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  say({ ready: typeof address === 'object' && address ? address.port : 0 })
  const stop = async () => {
    await app.close().catch(() => {})
    await cleanup?.().catch(() => {})
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
} catch (error) {
  if (error instanceof PendingError) {
    say({ pending: error.message })
    process.exit(3)
  }
  say({ failed: String((error as Error)?.stack ?? error) })
  process.exit(1)
}
