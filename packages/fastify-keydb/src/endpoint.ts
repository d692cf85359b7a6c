import { describeValue } from '@fastkey/support'
import { errors } from './errors.js'

/**
 * Validation of where a connection goes: URL, host, port and database index. ioredis accepts all of
 * these unchecked and then does something else than asked: `redis://host/abc` sends `SELECT NaN`
 * from its ready handler with nobody listening (an unhandled rejection), `/3abc` is read as 3,
 * port 0 becomes 6379, a cluster seed's `/2` is dropped. Every value is checked here, before a
 * socket is opened.
 */

/** Redis' own limit is `databases` (16 by default); this only rejects what cannot be an index. */
const MAX_DB_INDEX = 2_147_483_647

export const describe = describeValue

export function invalid(option: string, problem: string): Error {
  return new errors.FST_KEYDB_INVALID_OPTION(option, problem)
}

/**
 * `redis://user:secret@host` is shown as `redis://user:***@host`: option errors end up in logs. Up to
 * the last `@`, so that a password with a raw `@` or `/` in it is hidden too.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i, (_, scheme: string, auth: string) => {
    const colon = auth.indexOf(':')
    return `${scheme}${colon === -1 ? '***' : `${auth.slice(0, colon)}:***`}@`
  })
}

/** A database index: a non-negative integer (a number, or digits only when it comes from a URL). */
export function databaseIndex(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  const index = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > MAX_DB_INDEX) {
    throw invalid(option, `expected a database index (an integer >= 0), got ${describe(value)}`)
  }
  return index
}

/** A TCP port: 1-65535 (0 would silently become 6379 in ioredis). */
export function tcpPort(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw invalid(option, `expected a TCP port from 1 to 65535, got ${describe(value)}`)
  }
  return port
}

export function hostName(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(option, `expected a host name or address, got ${describe(value)}`)
  }
  return value
}

export interface ParsedUrl {
  url: string
  /** The database index of the path (`/3`) or of the query (`?db=3`), if any. */
  db: number | undefined
}

/**
 * `redis://[[user]:password@]host[:port][/db]` or `rediss://...`, checked the way ioredis reads it:
 * the path is the database index, and a `db` query parameter is one too.
 */
export function parseKeydbUrl(value: unknown, option = 'url'): ParsedUrl {
  const shown = typeof value === 'string' ? describe(redactUrl(value)) : describe(value)
  // Lower case only: ioredis enables TLS for "rediss://" exactly, "REDISS://" would go in clear text.
  if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) {
    throw invalid(option, `expected a redis:// or rediss:// URL, got ${shown}`)
  }
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw invalid(option, `not a valid URL: ${shown}`)
  }
  if (parsed.hostname === '') throw invalid(option, `the URL has no host: ${shown}`)
  if (parsed.port !== '') tcpPort(`${option} (port)`, parsed.port)
  const path = parsed.pathname === '/' ? '' : parsed.pathname.slice(1)
  const query = parsed.searchParams.get('db') ?? undefined
  if (path !== '' && query !== undefined) {
    throw invalid(option, `give the database index once, in the path or as ?db=, not both: ${shown}`)
  }
  const db = databaseIndex(`${option} (database index)`, path === '' ? query : decodeURIComponent(path))
  return { url: value, db }
}

/**
 * A cluster seed: a URL (database 0 only: ioredis drops any other index without a word), `host:port`,
 * a port number, or `{ host, port }`.
 */
export function validateClusterNode(option: string, node: unknown): void {
  if (typeof node === 'number') {
    tcpPort(option, node)
  } else if (typeof node === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(node)) {
    const { db } = parseKeydbUrl(node, option)
    if (db !== undefined && db !== 0) throw invalid(option, `a cluster has only database 0, got ${db}`)
  } else if (typeof node === 'string') {
    const match = /^(.*?)(?::(\d+))?$/.exec(node)
    hostName(option, match?.[1])
    tcpPort(`${option} (port)`, match?.[2])
  } else if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
    const { host, port } = node as { host?: unknown; port?: unknown }
    hostName(`${option}.host`, host)
    tcpPort(`${option}.port`, port)
  } else {
    throw invalid(option, `expected a URL, "host:port", a port or { host, port }, got ${describe(node)}`)
  }
}
