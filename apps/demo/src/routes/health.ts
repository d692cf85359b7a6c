import type { FastifyPluginAsync } from 'fastify'
import { emptyQuery, errorResponses } from '../schemas.js'
import type { CacheHealth, CacheHealthCheck } from '../types.js'

export interface HealthRouteOptions {
  cacheHealth: CacheHealthCheck
  /** Deadline for each probe (database ping, cache check), in milliseconds. */
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
      properties: { ok: { type: 'boolean' }, latencyMs: { type: 'number' } },
    },
    db: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } },
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

/** `GET /health`: 503 when the database does not answer; `degraded` (200) when only the cache fails. */
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
      const [dbOk, cache] = await Promise.all([
        database.ping(options.timeoutMs),
        probeCache(options.cacheHealth, options.timeoutMs),
      ])
      const status = !dbOk ? 'down' : cache.ok ? 'ok' : 'degraded'
      reply.code(dbOk ? 200 : 503)
      return { status, cache, db: { ok: dbOk } }
    },
  )
}
