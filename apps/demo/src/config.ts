import { parseKeydbUrl } from '@fastkey/fastify-keydb'
import { DEFAULT_SEED_PRODUCTS } from './db/seed.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The demo's settings, read from the environment once at start. */
export interface DemoConfig {
  /** `PORT`: TCP port to listen on (1..65535). @default 3000 */
  port: number
  /** Interface to listen on. Not configurable: the demo runs in containers. */
  host: string
  /** `DATABASE_URL`: postgres:// URL; unset → embedded PGlite. */
  databaseUrl: string | undefined
  /** `KEYDB_URL`: redis:// or rediss:// URL of KeyDB, used by the cache once it is wired. */
  keydbUrl: string | undefined
  /** `PGLITE_DIR`: PGlite data directory; unset → in-memory. Not allowed together with DATABASE_URL. */
  pgliteDir: string | undefined
  /** `SEED_PRODUCTS`: products generated on first start of an empty database (0..1,000,000). @default 10000 */
  seedProducts: number
  /** `LOG_LEVEL`: pino level. @default 'info' */
  logLevel: LogLevel
}

/** A bad environment value. `message` is the one line the server prints before exiting with 1. */
export class ConfigError extends Error {
  readonly code = 'FST_DEMO_CONFIG'
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

const MAX_SEED_PRODUCTS = 1_000_000

/** Empty values count as unset: `FOO=` in a compose file or a shell means "not given". */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function integerIn(env: Env, name: string, min: number, max: number, fallback: number): number {
  const raw = read(env, name)
  if (raw === undefined) return fallback
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `Invalid ${name} "${raw}": expected an integer from ${min} to ${max}.`)
  }
  return value
}

function urlWithProtocol(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = read(env, name)
  if (raw === undefined) return undefined
  let protocol: string | undefined
  try {
    protocol = new URL(raw).protocol
  } catch {
    protocol = undefined
  }
  if (protocol === undefined || !protocols.includes(protocol)) {
    const expected = protocols.map((p) => `${p}//`).join(' or ')
    // The value may hold a password: name the variable, never echo it.
    throw new ConfigError(name, `Invalid ${name}: expected a URL starting with ${expected}.`)
  }
  return raw
}

/**
 * KEYDB_URL, checked as fastify-keydb will use it (scheme, host, port, database index), so that a bad
 * one stops the server before it opens the database. fastify-keydb's message hides any password.
 */
function keydbUrl(env: Env): string | undefined {
  const raw = read(env, 'KEYDB_URL')
  if (raw === undefined) return undefined
  try {
    return parseKeydbUrl(raw).url
  } catch (error) {
    throw new ConfigError('KEYDB_URL', `Invalid KEYDB_URL: ${(error as Error).message}`)
  }
}

function logLevel(env: Env): LogLevel {
  const raw = read(env, 'LOG_LEVEL')
  if (raw === undefined) return 'info'
  const level = LOG_LEVELS.find((candidate) => candidate === raw.toLowerCase())
  if (!level) {
    throw new ConfigError(
      'LOG_LEVEL',
      `Invalid LOG_LEVEL "${raw}": expected one of ${LOG_LEVELS.join(', ')}.`,
    )
  }
  return level
}

/** Parses and validates the environment; throws a `ConfigError` naming the first bad variable. */
export function parseConfig(env: Env = process.env): DemoConfig {
  const databaseUrl = urlWithProtocol(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const pgliteDir = read(env, 'PGLITE_DIR')
  if (databaseUrl !== undefined && pgliteDir !== undefined) {
    throw new ConfigError(
      'PGLITE_DIR',
      'Invalid PGLITE_DIR: set DATABASE_URL (Postgres) or PGLITE_DIR (embedded PGlite), not both.',
    )
  }
  return {
    port: integerIn(env, 'PORT', 1, 65_535, 3000),
    host: '0.0.0.0',
    databaseUrl,
    keydbUrl: keydbUrl(env),
    pgliteDir,
    seedProducts: integerIn(env, 'SEED_PRODUCTS', 0, MAX_SEED_PRODUCTS, DEFAULT_SEED_PRODUCTS),
    logLevel: logLevel(env),
  }
}
