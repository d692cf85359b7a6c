import type { FastifyInstance } from 'fastify'
import { onTestFinished } from 'vitest'
import { type BuildAppOptions, buildApp } from '../../src/app.js'
import type { Database } from '../../src/db/client.js'

/** A fresh app on the file's shared database, closed when the test ends (the database stays open). */
export async function testApp(
  database: Database,
  options: Omit<BuildAppOptions, 'database'> = {},
): Promise<FastifyInstance> {
  const app = await buildApp({ ...options, database })
  onTestFinished(() => app.close())
  return app
}

/** Sum of `demo_db_queries_total` over its labels. */
export async function queryCount(app: FastifyInstance): Promise<number> {
  const metric = app.metricsRegistry.getSingleMetric('demo_db_queries_total')
  if (!metric) throw new Error('demo_db_queries_total is not registered')
  const { values } = await metric.get()
  return values.reduce((sum, { value }) => sum + value, 0)
}
