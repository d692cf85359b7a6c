import { durationProblem, isPlainObject } from '@fastkey/support'
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import {
  clusterDefaults,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_REPLY_BYTES,
  sentinelDefaults,
  standaloneDefaults,
} from './defaults.js'
import {
  databaseIndex,
  describe,
  hostName,
  invalid,
  parseKeydbUrl,
  tcpPort,
  validateClusterNode,
} from './endpoint.js'
import type { FastifyKeydbOptions } from './types.js'

/** Where the connection comes from, after validation. */
export type ConnectionSource =
  | {
      kind: 'standalone'
      url: string | undefined
      redisOptions: RedisOptions
      /** The database index the connection must use, and the option it comes from (for errors). */
      db: number
      dbOption: 'url' | 'db'
    }
  | { kind: 'cluster'; nodes: ClusterNode[]; clusterOptions: ClusterOptions }
  | { kind: 'client'; client: Redis | Cluster; closeClient: boolean }

export interface ResolvedKeydbOptions {
  readonly namespace: string | undefined
  readonly connectTimeoutMs: number
  readonly commandTimeoutMs: number
  readonly requireOnBoot: boolean
  readonly maxReplyBytes: number
  readonly source: ConnectionSource
}

const OWN_KEYS = new Set([
  'namespace',
  'connectTimeoutMs',
  'commandTimeoutMs',
  'requireOnBoot',
  'maxReplyBytes',
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

function positiveMs(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  const problem = durationProblem(value)
  if (problem !== undefined) throw invalid(option, problem)
  return value as number
}

function optionalBoolean(option: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalid(option, `expected a boolean, got ${describe(value)}`)
  return value
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

function maxBytes(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (value === Number.POSITIVE_INFINITY) return value
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(option, `expected a positive integer number of bytes (or Infinity), got ${describe(value)}`)
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

/** ioredis 6 has RESP3 (`protocol`, default 3); ioredis 5 has no such option and would ignore it. */
function ioredisHasResp3(): boolean {
  return (
    (Redis as unknown as { defaultOptions?: { protocol?: unknown } }).defaultOptions?.protocol !== undefined
  )
}

/**
 * `protocol` 2 (the plugin's default) or 3 (RESP3, ioredis 6 only), and no `replyMapping` but ioredis'
 * legacy one: `fastify.keydb` is typed as ioredis' `Redis`, whose reply types are the legacy shapes,
 * so `'resp3'` (maps as objects, doubles as numbers) would make those types lie.
 */
function validateProtocol(options: Record<string, unknown>, path: string): void {
  const { protocol, replyMapping } = options
  if (protocol !== undefined && protocol !== 2 && protocol !== 3) {
    throw invalid(`${path}protocol`, `expected 2 or 3, got ${describe(protocol)}`)
  }
  if (protocol === 3 && !ioredisHasResp3()) {
    throw invalid(`${path}protocol`, 'RESP3 needs ioredis 6; the installed ioredis speaks RESP2 only')
  }
  if (replyMapping !== undefined && replyMapping !== 'legacy') {
    throw invalid(
      `${path}replyMapping`,
      `only 'legacy' (fastify.keydb is typed with ioredis' legacy reply shapes), got ${describe(replyMapping)}`,
    )
  }
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
  for (const [i, node] of value.nodes.entries()) validateClusterNode(`cluster.nodes[${i}]`, node)
  const user = value.options as ClusterOptions | undefined
  if (user?.redisOptions !== undefined) {
    if (!isPlainObject(user.redisOptions)) {
      throw invalid('cluster.options.redisOptions', `expected an object, got ${describe(user.redisOptions)}`)
    }
    validateProtocol(user.redisOptions, 'cluster.options.redisOptions.')
  }
  const nodeDb = databaseIndex('cluster.options.redisOptions.db', user?.redisOptions?.db)
  if (nodeDb !== undefined && nodeDb !== 0) {
    // ioredis would send SELECT to every node, which a cluster refuses, and then use db 0 anyway.
    throw invalid('cluster.options.redisOptions.db', `a cluster has only database 0, got ${nodeDb}`)
  }
  return { kind: 'cluster', nodes: value.nodes as ClusterNode[], clusterOptions: clusterDefaults(t, user) }
}

function resolveClient(options: Record<string, unknown>, rest: string[]): ConnectionSource {
  if (!isIoredisClient(options.client)) {
    throw invalid('client', `expected an ioredis Redis or Cluster instance, got ${describe(options.client)}`)
  }
  if (rest.length > 0) throw invalid(rest[0]!, 'ioredis options cannot be applied to an injected client')
  if (!options.client.isCluster) {
    // A client built from `redis://host/abc` carries db NaN: its ready handler would send SELECT NaN.
    databaseIndex('client (its db option)', (options.client as Redis).options.db)
  }
  return {
    kind: 'client',
    client: options.client,
    closeClient: optionalBoolean('closeClient', options.closeClient),
  }
}

function validateSentinels(options: Record<string, unknown>): void {
  if (options.sentinels === undefined) return
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

/** The database the connection must use: from the URL or the `db` option, given once. */
function standaloneDb(options: Record<string, unknown>, urlDb: number | undefined): number {
  const optionDb = databaseIndex('db', options.db)
  if (urlDb !== undefined && optionDb !== undefined) {
    // ioredis would silently prefer the URL's.
    throw invalid('url+db', 'give the database index once, in the URL or as `db`, not both')
  }
  return urlDb ?? optionDb ?? 0
}

function resolveStandalone(options: Record<string, unknown>, rest: string[], t: Timeouts): ConnectionSource {
  const parsed = options.url === undefined ? undefined : parseKeydbUrl(options.url)
  validateSentinels(options)
  hostName('host', options.host)
  tcpPort('port', options.port)
  const db = standaloneDb(options, parsed?.db)
  const user: Record<string, unknown> = {}
  for (const key of rest) user[key] = options[key]
  validateProtocol(user, '')
  const viaSentinel = options.sentinels !== undefined && sentinelDefaults(t)
  const redisOptions = { ...standaloneDefaults(t), ...viaSentinel, ...user }
  return {
    kind: 'standalone',
    url: parsed?.url,
    redisOptions,
    db,
    dbOption: parsed?.db === undefined ? 'db' : 'url',
  }
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
  const maxReplyBytes = maxBytes('maxReplyBytes', options.maxReplyBytes, DEFAULT_MAX_REPLY_BYTES)
  const kind = pickSource(options)
  if (options.closeClient !== undefined && kind !== 'client') {
    throw invalid('closeClient', 'only applies together with `client`')
  }
  const rest = ioredisKeys(options)
  let source: ConnectionSource
  if (kind === 'cluster') source = resolveCluster(options.cluster, rest, t)
  else if (kind === 'client') source = resolveClient(options, rest)
  else source = resolveStandalone(options, rest, t)
  return Object.freeze({ namespace, requireOnBoot, maxReplyBytes, source, ...t })
}
