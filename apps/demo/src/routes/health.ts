import type { FastifyPluginAsync } from 'fastify'
import { emptyQuery, errorResponses } from '../schemas.js'
import type { CacheHealth, CacheHealthCheck } from '../types.js'

export interface HealthRouteOptions {
  cacheHealth: CacheHealthCheck
  /** Deadline for each probe (database tables, cache check), in milliseconds. */
  timeoutMs: number
}

const healthSchema = {
  type: 'object',
  required: ['status', 'cache', 'db'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'down'] },
    cache: {
      type: 'object',
      required: ['ok', 'latencyMs'],
      properties: {
        ok: { type: 'boolean' },
        latencyMs: { type: 'number' },
        pendingInvalidations: { type: 'integer' },
      },
    },
    db: {
      type: 'object',
      required: ['ok', 'latencyMs'],
      properties: { ok: { type: 'boolean' }, latencyMs: { type: 'number' }, error: { type: 'string' } },
    },
  },
} as const

/** A health probe must answer even when the cache hangs or throws: bound it and turn failure into ok:false. */
async function probeCache(check: CacheHealthCheck, timeoutMs: number): Promise<CacheHealth> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<CacheHealth>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, latencyMs: timeoutMs }), timeoutMs)
  })
  const started = performance.now()
  const probe = Promise.resolve()
    .then(check)
    .catch((): CacheHealth => ({ ok: false, latencyMs: performance.now() - started }))
  try {
    return await Promise.race([probe, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `GET /health`: 503 `down` when the origin the routes read cannot serve them (the probe reads the
 * products and categories tables, not just `select 1`: a connection that works says nothing about a
 * table that is gone or locked); `degraded` (200) when only the cache fails: the app still answers.
 */
export const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, options) => {
  const { database } = app
  app.get(
    '/health',
    {
      schema: {
        querystring: emptyQuery,
        response: { ...errorResponses, 200: healthSchema, 503: healthSchema },
      },
    },
    async (_request, reply) => {
      const [db, cache] = await Promise.all([
        database.probe(options.timeoutMs),
        probeCache(options.cacheHealth, options.timeoutMs),
      ])
      const status = !db.ok ? 'down' : cache.ok ? 'ok' : 'degraded'
      reply.code(db.ok ? 200 : 503)
      return { status, cache, db }
    },
  )
}
