import { type RedisProcess, startRedisServer } from '@fastkey/test-services'
import Fastify, { type FastifyInstance } from 'fastify'
import { onTestFinished } from 'vitest'
import { type FastifyKeydbOptions, fastifyKeydb } from '../src/index.js'

export interface LogLine {
  level: number
  msg: string
}

export const WARN = 40

export interface TestApp {
  app: FastifyInstance
  logs: LogLine[]
  /** Log lines at warn level or above. */
  warnings(): LogLine[]
}

/** A fresh Fastify app whose log lines are captured; closed when the test finishes. */
export function buildApp(): TestApp {
  const logs: LogLine[] = []
  const app = Fastify({
    logger: {
      level: 'debug',
      stream: {
        write(line: string) {
          logs.push(JSON.parse(line) as LogLine)
        },
      },
    },
  })
  onTestFinished(() => app.close())
  return { app, logs, warnings: () => logs.filter((line) => line.level >= WARN) }
}

/** `buildApp()` with one registration, ready. */
export async function appWith(options: FastifyKeydbOptions): Promise<TestApp> {
  const built = buildApp()
  built.app.register(fastifyKeydb, options)
  await built.app.ready()
  return built
}

/** A throwaway redis-server, stopped when the test finishes. */
export async function throwawayServer(args: string[] = []): Promise<RedisProcess> {
  const server = await startRedisServer({ args })
  onTestFinished(() => server.stop())
  return server
}

/** Milliseconds `fn` took to settle (either way), with its outcome. */
export async function timed<T>(
  fn: () => PromiseLike<T>,
): Promise<{ ms: number; value?: T; error?: Error & { code?: string } }> {
  const start = performance.now()
  try {
    const value = await fn()
    return { ms: performance.now() - start, value }
  } catch (error) {
    return { ms: performance.now() - start, error: error as Error & { code?: string } }
  }
}

/** Polls `check` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return check()
}

/**
 * Measured durations, printed when `KEYDB_MEASURE=1` so the README numbers come from these tests.
 */
export function measured(label: string, ms: number): void {
  if (process.env.KEYDB_MEASURE === '1') console.info(`[measure] ${label}: ${ms.toFixed(1)} ms`)
}
