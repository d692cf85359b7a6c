import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

/** A key prefix no other test (or test process) uses: `t:<label>:<random>:`. */
export function uniquePrefix(label = 'test'): string {
  const safe = label.replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 32)
  return `t:${safe}:${randomBytes(6).toString('hex')}:`
}

async function deleteMatching(node: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
    cursor = next
    // One key per call: on a cluster the keys of one SCAN page live in many slots.
    for (const key of keys) deleted += await node.unlink(key)
  } while (cursor !== '0')
  return deleted
}

/**
 * Deletes the keys under `prefix` and nothing else (never FLUSHALL/FLUSHDB: the server is shared).
 * On a cluster every master is scanned. Returns the number of keys removed.
 */
export async function cleanupPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
  if ('nodes' in client && typeof client.nodes === 'function' && client.isCluster) {
    const counts = await Promise.all(client.nodes('master').map((node) => deleteMatching(node, pattern)))
    return counts.reduce((a, b) => a + b, 0)
  }
  return deleteMatching(client as Redis, pattern)
}
