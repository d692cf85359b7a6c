import { errorMessage } from '@fastkey/support'
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import type { ConnectionSource } from './options.js'

// ioredis 6 types its constructors' options as `RedisOptions & { replyMapping?: M }`, which under
// `exactOptionalPropertyTypes` refuses RedisOptions' own `replyMapping?: M | undefined`. Same objects,
// typed the way the constructors accept them (the legacy reply shapes `KeydbClient` is typed with;
// options.ts accepts no other `replyMapping`).
export type ConstructorRedisOptions = RedisOptions & { replyMapping?: 'legacy' }
export type ConstructorClusterOptions = ClusterOptions & { redisOptions?: ConstructorRedisOptions }

/** Creates the client for a validated source; an injected client is returned as it is. */
export function createClient(source: ConnectionSource): Redis | Cluster {
  switch (source.kind) {
    case 'client':
      return source.client
    case 'cluster':
      return new Cluster(source.nodes, source.clusterOptions as ConstructorClusterOptions)
    case 'standalone': {
      const options = source.redisOptions as ConstructorRedisOptions
      return source.url === undefined ? new Redis(options) : new Redis(source.url, options)
    }
  }
}

function nodeAddress(node: ClusterNode): string {
  if (typeof node === 'object') return `${node.host ?? 'localhost'}:${node.port ?? 6379}`
  return typeof node === 'number' ? `localhost:${node}` : node
}

/** Where the client connects, for logs and errors. Never includes credentials. */
export function describeAddress(client: Redis | Cluster): string {
  if (client.isCluster) {
    // ioredis keeps the seeds in a private field; reading it is the only way to name them.
    const seeds = (client as unknown as { startupNodes?: ClusterNode[] }).startupNodes ?? []
    return `cluster ${seeds.map(nodeAddress).join(',') || '(no seed nodes)'}`
  }
  const { options } = client as Redis
  if (options.sentinels?.length) {
    const sentinels = options.sentinels.map((s) => `${s.host ?? 'localhost'}:${s.port ?? 26379}`)
    return `master "${options.name ?? ''}" via sentinels ${sentinels.join(',')}`
  }
  if (options.path) return `unix:${options.path}`
  return `${options.host ?? 'localhost'}:${options.port ?? 6379}`
}

export type ReadyResult = { ok: true } | { ok: false; reason: string; cause?: Error }

/**
 * Waits until the client is ready, at most `timeoutMs`. With the offline queue off, ioredis rejects
 * every command until the first 'ready', so registration must not return before it (or before it
 * gives up waiting). Starts a lazy client. Resolves, never rejects; `signal` ends the wait early.
 */
export function waitForReady(
  client: Redis | Cluster,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ReadyResult> {
  if (signal?.aborted) return Promise.resolve({ ok: false, reason: 'aborted' })
  if (client.status === 'ready') return Promise.resolve({ ok: true })
  if (client.status === 'end') return Promise.resolve({ ok: false, reason: 'the client is closed' })
  return new Promise((resolve) => {
    let lastError: Error | undefined
    const finish = (result: ReadyResult) => {
      clearTimeout(timer)
      client.off('ready', onReady)
      client.off('error', onError)
      client.off('end', onEnd)
      signal?.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const failure = (why: string): ReadyResult =>
      lastError
        ? { ok: false, reason: errorMessage(lastError), cause: lastError }
        : { ok: false, reason: why }
    const onReady = () => finish({ ok: true })
    const onError = (err: Error) => {
      lastError = err
    }
    const onEnd = () => finish(failure('the client stopped reconnecting'))
    const onAbort = () => finish(failure('aborted'))
    const timer = setTimeout(() => finish(failure(`not ready (status "${client.status}")`)), timeoutMs)
    client.on('ready', onReady)
    client.on('error', onError)
    client.once('end', onEnd)
    signal?.addEventListener('abort', onAbort)
    if (client.status === 'wait') client.connect().catch(() => {})
  })
}
