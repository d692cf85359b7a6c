import { inspect } from 'node:util'
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import {
  clusterDefaults,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  standaloneDefaults,
} from './defaults.js'
import { errors } from './errors.js'
import type { FastifyKeydbOptions } from './types.js'

/** Where the connection comes from, after validation. */
export type ConnectionSource =
  | { kind: 'standalone'; url: string | undefined; redisOptions: RedisOptions }
  | { kind: 'cluster'; nodes: ClusterNode[]; clusterOptions: ClusterOptions }
  | { kind: 'client'; client: Redis | Cluster; closeClient: boolean }

export interface ResolvedKeydbOptions {
  readonly namespace: string | undefined
  readonly connectTimeoutMs: number
  readonly commandTimeoutMs: number
  readonly requireOnBoot: boolean
  readonly source: ConnectionSource
}

const OWN_KEYS = new Set([
  'namespace',
  'connectTimeoutMs',
  'commandTimeoutMs',
  'requireOnBoot',
  'url',
  'cluster',
  'client',
  'closeClient',
])
// Register options Fastify itself understands; they may reach the plugin and are not ioredis options.
const FASTIFY_KEYS = new Set(['prefix', 'logLevel', 'logSerializers'])

const NAMESPACE_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/
// Names that would shadow the extensions or break the namespace object.
const RESERVED_NAMESPACES = new Set(['health', 'subscriber', 'capabilities', 'constructor', 'prototype'])
const MAX_TIMER_MS = 2_147_483_647

function describe(value: unknown): string {
  const text = inspect(value, { depth: 0, breakLength: Number.POSITIVE_INFINITY })
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function invalid(option: string, problem: string): Error {
  return new errors.FST_KEYDB_INVALID_OPTION(option, problem)
}

function positiveMs(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw invalid(option, `expected a positive number of milliseconds, got ${describe(value)}`)
  }
  return value
}

function optionalBoolean(option: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalid(option, `expected a boolean, got ${describe(value)}`)
  return value
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * An ioredis `Redis` or `Cluster`. `instanceof` first; the shape test accepts a client made by a second
 * copy of ioredis in node_modules, whose classes are different objects.
 */
export function isIoredisClient(value: unknown): value is Redis | Cluster {
  if (value instanceof Redis || value instanceof Cluster) return true
  if (typeof value !== 'object' || value === null) return false
  const c = value as Record<string, unknown>
  return (
    typeof c.sendCommand === 'function' &&
    typeof c.duplicate === 'function' &&
    typeof c.status === 'string' &&
    typeof c.isCluster === 'boolean'
  )
}

function validateNamespace(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !NAMESPACE_PATTERN.test(value) || RESERVED_NAMESPACES.has(value)) {
    throw invalid(
      'namespace',
      `expected 1-64 letters, digits, "_" or "-" starting with a letter or "_", not one of ` +
        `${[...RESERVED_NAMESPACES].join(', ')}; got ${describe(value)}`,
    )
  }
  return value
}

/** `redis://user:secret@host` is shown as `redis://user:***@host`: option errors end up in logs. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@')
}

function validateUrl(value: unknown): string {
  if (typeof value !== 'string' || !/^rediss?:\/\/./.test(value)) {
    const shown = typeof value === 'string' ? describe(redactUrl(value)) : describe(value)
    throw invalid('url', `expected a redis:// or rediss:// URL, got ${shown}`)
  }
  try {
    new URL(value)
  } catch {
    throw invalid('url', `not a valid URL: ${describe(redactUrl(value))}`)
  }
  return value
}

function pickSource(options: Record<string, unknown>): string | undefined {
  const given = ['url', 'cluster', 'client', 'sentinels'].filter((key) => options[key] !== undefined)
  if (given.length > 1) {
    throw invalid(given.join('+'), `give one connection source, not ${given.join(' and ')} together`)
  }
  return given[0]
}

function ioredisKeys(options: Record<string, unknown>): string[] {
  return Object.keys(options).filter(
    (key) => !OWN_KEYS.has(key) && !FASTIFY_KEYS.has(key) && options[key] !== undefined,
  )
}

function resolveCluster(value: unknown, rest: string[], t: Timeouts): ConnectionSource {
  if (rest.length > 0) {
    throw invalid(rest[0]!, 'ioredis options go in cluster.options (per node: cluster.options.redisOptions)')
  }
  if (!isPlainObject(value) || !Array.isArray(value.nodes) || value.nodes.length === 0) {
    throw invalid('cluster.nodes', `expected a non-empty array of seed nodes, got ${describe(value)}`)
  }
  if (value.options !== undefined && !isPlainObject(value.options)) {
    throw invalid('cluster.options', `expected an object, got ${describe(value.options)}`)
  }
  const user = value.options as ClusterOptions | undefined
  return { kind: 'cluster', nodes: value.nodes as ClusterNode[], clusterOptions: clusterDefaults(t, user) }
}

function resolveClient(options: Record<string, unknown>, rest: string[]): ConnectionSource {
  if (!isIoredisClient(options.client)) {
    throw invalid('client', `expected an ioredis Redis or Cluster instance, got ${describe(options.client)}`)
  }
  if (rest.length > 0) throw invalid(rest[0]!, 'ioredis options cannot be applied to an injected client')
  return {
    kind: 'client',
    client: options.client,
    closeClient: optionalBoolean('closeClient', options.closeClient),
  }
}

function resolveStandalone(options: Record<string, unknown>, rest: string[], t: Timeouts): ConnectionSource {
  const url = options.url === undefined ? undefined : validateUrl(options.url)
  if (options.sentinels !== undefined) {
    if (!Array.isArray(options.sentinels) || options.sentinels.length === 0) {
      throw invalid(
        'sentinels',
        `expected a non-empty array of sentinel addresses, got ${describe(options.sentinels)}`,
      )
    }
    if (typeof options.name !== 'string' || options.name === '') {
      throw invalid('name', `the master group name is required with sentinels, got ${describe(options.name)}`)
    }
  }
  const user: Record<string, unknown> = {}
  for (const key of rest) user[key] = options[key]
  return { kind: 'standalone', url, redisOptions: { ...standaloneDefaults(t), ...user } }
}

interface Timeouts {
  connectTimeoutMs: number
  commandTimeoutMs: number
}

/** Our `...Ms` option, or the raw ioredis one (which then also drives the boot wait / health deadline). */
function timeout(options: Record<string, unknown>, ours: string, theirs: string, fallback: number): number {
  if (options[ours] !== undefined && options[theirs] !== undefined) {
    throw invalid(`${ours}+${theirs}`, `give ${ours} or the ioredis option ${theirs}, not both`)
  }
  if (options[theirs] !== undefined) return positiveMs(theirs, options[theirs], fallback)
  return positiveMs(ours, options[ours], fallback)
}

/** Validates the plugin options and merges the fail-fast defaults. Throws a coded error on bad input. */
export function resolveOptions(input: FastifyKeydbOptions | undefined): ResolvedKeydbOptions {
  const options: unknown = input ?? {}
  if (!isPlainObject(options)) throw invalid('options', `expected an object, got ${describe(options)}`)
  const t: Timeouts = {
    connectTimeoutMs: timeout(options, 'connectTimeoutMs', 'connectTimeout', DEFAULT_CONNECT_TIMEOUT_MS),
    commandTimeoutMs: timeout(options, 'commandTimeoutMs', 'commandTimeout', DEFAULT_COMMAND_TIMEOUT_MS),
  }
  const namespace = validateNamespace(options.namespace)
  const requireOnBoot = optionalBoolean('requireOnBoot', options.requireOnBoot)
  const kind = pickSource(options)
  if (options.closeClient !== undefined && kind !== 'client') {
    throw invalid('closeClient', 'only applies together with `client`')
  }
  const rest = ioredisKeys(options)
  let source: ConnectionSource
  if (kind === 'cluster') source = resolveCluster(options.cluster, rest, t)
  else if (kind === 'client') source = resolveClient(options, rest)
  else source = resolveStandalone(options, rest, t)
  return Object.freeze({ namespace, requireOnBoot, source, ...t })
}
