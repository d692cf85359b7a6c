import type { FastifyInstance } from 'fastify'
import { describeValue, invalidOption } from '../engine/validate.js'
import { KeydbStore } from '../stores/keydb.js'
import type { KeydbStoreOptions } from '../stores/keydb-options.js'
import type { CacheStore } from '../stores/types.js'
import type { ResolvedPluginOptions } from './plugin-options.js'

type KeydbLike = KeydbStoreOptions['client'] & { subscriber?: () => KeydbStoreOptions['client'] }

function isClient(value: unknown): value is KeydbLike {
  return typeof (value as KeydbLike | null)?.defineCommand === 'function'
}

/** The store the plugin creates: KeyDB through `fastify.keydb` when it exists (or is asked for), else none. */
export function chooseStore(
  fastify: FastifyInstance,
  options: ResolvedPluginOptions,
): CacheStore | undefined {
  const choice = options.keydb
  if (choice === false) return undefined
  const decorated = fastify.hasDecorator('keydb')
    ? (fastify as unknown as { keydb: unknown }).keydb
    : undefined
  if (choice !== undefined && decorated === undefined)
    throw invalidOption(
      `keydb: ${describeValue(choice)} asks for fastify.keydb, but @fastkey/fastify-keydb is not registered before the cache in this context`,
    )
  const client =
    typeof choice === 'string' ? (decorated as Record<string, unknown> | undefined)?.[choice] : decorated
  if (!isClient(client)) {
    if (choice !== undefined)
      throw invalidOption(
        `keydb: no KeyDB connection ${typeof choice === 'string' ? `named "${choice}"` : ''}`,
      )
    return undefined
  }
  const subscriber = typeof client.subscriber === 'function' ? () => client.subscriber!() : undefined
  return new KeydbStore({
    client,
    ...(options.keyPrefix !== undefined && { keyPrefix: options.keyPrefix }),
    ...(options.commandTimeoutMs !== undefined && { commandTimeoutMs: options.commandTimeoutMs }),
    ...(options.replicaAckMs !== undefined && { replicaAckMs: options.replicaAckMs }),
    ...(subscriber && { subscriber }),
  })
}
