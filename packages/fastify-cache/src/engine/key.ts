import { createHash } from 'node:crypto'
import { errors } from '../errors.js'

/** Keys longer than this are stored as a hash. */
export const MAX_PLAIN_KEY_LENGTH = 200

// Braces would change the cluster hash tag, control characters break the bus framing, and a leading
// '#' marks our hashed keys: any of those, or a long key, is stored as its hash.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const NEEDS_HASH = /[{}\u0000-\u001f\u007f]|^#/

/**
 * Turns a caller's key into the key the store sees. Distinct inputs stay distinct: plain keys are kept
 * as they are, everything else becomes '#' + sha256, which no plain key can look like.
 */
export function normalizeKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new errors.FST_CACHE_INVALID_KEY(String(key))
  if (key.length <= MAX_PLAIN_KEY_LENGTH && !NEEDS_HASH.test(key)) return key
  return `#${createHash('sha256').update(key).digest('base64url')}`
}

/**
 * Joins parts so that no two different part lists give the same string: each part is prefixed with
 * its length, so a separator inside user input cannot shift a boundary.
 */
export function joinKeyParts(parts: readonly string[]): string {
  let out = ''
  for (const part of parts) out += `${part.length}:${part}|`
  return out
}
