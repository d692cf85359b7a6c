import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { FastkeyVariant } from './fastkey.js'
import { EXTRA_HEADERS, type Item } from './item.js'

/** A server that cannot run yet because what it needs is not built (reported as pending). */
export class PendingError extends Error {}

// Each server imports only what its mode uses (startup time, and no stray module in a CPU profile).
const fastkey = (variant: FastkeyVariant) => async (app: FastifyInstance, ctx: ModeContext) =>
  (await import('./fastkey.js')).fastkey(app, ctx, variant)
const peers = () => import('./peers.js')

/** What a mode's server gets: where KeyDB is, a key prefix of its own, and the counted origin. */
export interface ModeContext {
  redisUrl: string
  /** Unique to this server process (all its keys start with it). */
  prefix: string
  origin(id: number): Promise<Item>
  /** Pre-serialized bodies by id (the floor's answers). */
  bodies: string[]
  ttlMs: number
  swrMs: number
  /** Seed nodes (`host:port,…`) of the 3-master cluster, for the cluster modes. */
  clusterNodes?: string
}

export type ModeGroup = 'floor' | 'fastkey' | 'peer' | 'reference'

export interface HttpMode {
  name: string
  label: string
  group: ModeGroup
  /** Sends `x-cache: HIT` once warm. */
  fastkey: boolean
  /**
   * Measured in every (keys × connections) cell of the sweep; the others only in the main cell
   * (they compare against a sibling mode, not across key counts).
   */
  sweep?: boolean
  /** Runs against the 3-master cluster (skipped when none answers). */
  cluster?: boolean
  /** Registers `GET /item/:id`; may return a clean-up. */
  setup(app: FastifyInstance, ctx: ModeContext): Promise<void | (() => Promise<void>)>
}

export const MODES: HttpMode[] = [
  {
    name: 'floor',
    sweep: true,
    label: 'floor (pre-serialized string)',
    group: 'floor',
    fastkey: false,
    async setup(app, ctx) {
      app.get<{ Params: { id: string } }>('/item/:id', (req, reply) => {
        const body = ctx.bodies[Number(req.params.id)]
        if (body === undefined) return reply.code(404).send()
        return reply.type('application/json').send(body)
      })
    },
  },
  {
    name: 'floor-headers',
    label: 'floor + 5 headers (reference)',
    group: 'reference',
    fastkey: false,
    async setup(app, ctx) {
      app.get<{ Params: { id: string } }>('/item/:id', (req, reply) => {
        const body = ctx.bodies[Number(req.params.id)]
        if (body === undefined) return reply.code(404).send()
        for (const [name, value] of EXTRA_HEADERS) reply.header(name, value)
        return reply.type('application/json').send(body)
      })
    },
  },
  {
    // What any cache that answers in onRequest pays before its own lookup: the floor's bytes, sent as
    // a Buffer from a route's onRequest hook with the three headers a fastkey hit adds (x-cache, age,
    // etag). The L1 hit against it is fastkey's own cost; against the floor, also the hook's.
    name: 'floor-onrequest',
    label: 'floor sent from onRequest, 3 cache headers (reference)',
    group: 'reference',
    fastkey: false,
    async setup(app, ctx) {
      const bodies = ctx.bodies.map((body) => Buffer.from(body))
      // The etag fastify-cache computes at fill time (a SHA-1 of the body).
      const etags = bodies.map((body) => `"${createHash('sha1').update(body).digest('base64url')}"`)
      app.get<{ Params: { id: string } }>(
        '/item/:id',
        {
          onRequest: (req, reply, done) => {
            const id = Number(req.params.id)
            const body = bodies[id]
            if (body === undefined) return done()
            reply.header('x-cache', 'HIT').header('age', '0').header('etag', etags[id])
            reply.header('content-type', 'application/json; charset=utf-8').send(body)
          },
        },
        (_req, reply) => reply.code(404).send(),
      )
    },
  },
  {
    name: 'fk-l1',
    sweep: true,
    label: 'fastkey, L1 hit',
    group: 'fastkey',
    fastkey: true,
    setup: fastkey({ l1: true }),
  },
  {
    name: 'fk-keydb',
    sweep: true,
    label: 'fastkey, KeyDB hit (L1 off)',
    group: 'fastkey',
    fastkey: true,
    setup: fastkey({ l1: false }),
  },
  {
    name: 'fk-metrics',
    label: 'fastkey, L1 hit + metrics',
    group: 'fastkey',
    fastkey: true,
    setup: fastkey({ l1: true, metrics: true }),
  },
  {
    name: 'fk-tags',
    label: 'fastkey, L1 hit + tags',
    group: 'fastkey',
    fastkey: true,
    setup: fastkey({ l1: true, tags: true }),
  },
  {
    name: 'fk-keydb-tags',
    sweep: true,
    label: 'fastkey, KeyDB hit + tags',
    group: 'fastkey',
    fastkey: true,
    setup: fastkey({ l1: false, tags: true }),
  },
  {
    name: 'fk-l1-headers',
    label: 'fastkey, L1 hit, 5 stored headers',
    group: 'fastkey',
    fastkey: true,
    setup: fastkey({ l1: true, headers: true }),
  },
  {
    name: 'fk-keydb-headers',
    label: 'fastkey, KeyDB hit, 5 stored headers',
    group: 'fastkey',
    fastkey: true,
    setup: fastkey({ l1: false, headers: true }),
  },
  {
    name: 'fk-keydb-cluster',
    label: 'fastkey, KeyDB hit on a 3-master cluster',
    group: 'fastkey',
    fastkey: true,
    cluster: true,
    setup: fastkey({ l1: false, cluster: true }),
  },
  {
    name: 'acd-memory',
    sweep: true,
    label: 'async-cache-dedupe memory',
    group: 'peer',
    fastkey: false,
    setup: async (a, c) => (await peers()).acd(a, c, 'memory'),
  },
  {
    name: 'acd-redis',
    sweep: true,
    label: 'async-cache-dedupe redis',
    group: 'peer',
    fastkey: false,
    setup: async (a, c) => (await peers()).acd(a, c, 'redis'),
  },
  {
    name: 'bento-memory',
    sweep: true,
    label: 'bentocache memory',
    group: 'peer',
    fastkey: false,
    setup: async (a, c) => (await peers()).bento(a, c, 'memory'),
  },
  {
    name: 'bento-redis',
    sweep: true,
    label: 'bentocache redis',
    group: 'peer',
    fastkey: false,
    setup: async (a, c) => (await peers()).bento(a, c, 'redis'),
  },
  {
    name: 'bento-l1l2',
    sweep: true,
    label: 'bentocache L1+L2+bus',
    group: 'peer',
    fastkey: false,
    setup: async (a, c) => (await peers()).bento(a, c, 'both'),
  },
  {
    name: 'cm-redis',
    sweep: true,
    label: 'cache-manager + @keyv/redis',
    group: 'peer',
    fastkey: false,
    setup: async (a, c) => (await peers()).cacheManager(a, c),
  },
  {
    name: 'redis-get',
    sweep: true,
    label: 'ioredis GET (reference)',
    group: 'reference',
    fastkey: false,
    setup: async (a, c) => (await peers()).plainRedis(a, c, false),
  },
  {
    name: 'redis-autopipe',
    label: 'ioredis GET, autopipelining (reference)',
    group: 'reference',
    fastkey: false,
    setup: async (a, c) => (await peers()).plainRedis(a, c, true),
  },
]

export function modeByName(name: string): HttpMode {
  const mode = MODES.find((m) => m.name === name)
  if (!mode) throw new Error(`unknown mode ${name}; known: ${MODES.map((m) => m.name).join(', ')}`)
  return mode
}
