import type { FastifyInstance } from 'fastify'
import { errors } from './errors.js'
import type { FastifyKeydb, KeydbClient } from './types.js'

const kRegistry = Symbol('@fastkey/fastify-keydb.registry')

/**
 * The connections registered on one instance. `fastify.keydb` is a getter over it: the default client
 * (with the namespaces attached as properties, as @fastify/redis does), or, with only namespaced
 * registrations, a plain object of the namespaces. Either registration order works.
 */
class KeydbRegistry {
  #default: KeydbClient | undefined
  readonly #namespaces: Record<string, KeydbClient> = Object.create(null)
  readonly #reserved = new Set<string | undefined>()

  get value(): FastifyKeydb {
    return (this.#default ?? this.#namespaces) as FastifyKeydb
  }

  /** Claims a slot before any connection is made, so a duplicate fails without side effects. */
  reserve(namespace: string | undefined): void {
    if (this.#reserved.has(namespace)) {
      throw new errors.FST_KEYDB_ALREADY_REGISTERED(
        namespace === undefined ? 'the default connection' : `namespace "${namespace}"`,
      )
    }
    this.#reserved.add(namespace)
  }

  /** Throws when a namespace would shadow a member of the default client (e.g. `status`, `get`). */
  assertNoClash(namespace: string | undefined, client: object): void {
    const clashes =
      namespace === undefined
        ? Object.keys(this.#namespaces).filter((ns) => ns in client)
        : this.#default && namespace in this.#default
          ? [namespace]
          : []
    if (clashes.length > 0) {
      throw new errors.FST_KEYDB_INVALID_OPTION(
        'namespace',
        `"${clashes[0]}" is a member of the ioredis client and cannot name a connection`,
      )
    }
  }

  attach(namespace: string | undefined, client: KeydbClient): void {
    if (namespace === undefined) {
      this.#default = client
      for (const [ns, named] of Object.entries(this.#namespaces)) defineNamespace(client, ns, named)
    } else {
      this.#namespaces[namespace] = client
      if (this.#default) defineNamespace(this.#default, namespace, client)
    }
  }

  /** Frees the slot of a registration that failed. */
  release(namespace: string | undefined): void {
    this.#reserved.delete(namespace)
  }

  /**
   * Removes the namespace properties put on an injected default client, so it goes back to its owner
   * as it came (and can be registered again by another app).
   */
  detachNamespaces(client: KeydbClient): void {
    if (this.#default !== client) return
    for (const ns of Object.keys(this.#namespaces)) {
      if ((client as unknown as Record<string, unknown>)[ns] === this.#namespaces[ns]) {
        delete (client as unknown as Record<string, unknown>)[ns]
      }
    }
  }
}

function defineNamespace(target: KeydbClient, namespace: string, client: KeydbClient): void {
  Object.defineProperty(target, namespace, { value: client, enumerable: true, configurable: true })
}

/** The registry of this instance, created (with the `keydb` decorator) by the first registration. */
export function registryOf(fastify: FastifyInstance): KeydbRegistry {
  const holder = fastify as unknown as { [kRegistry]?: KeydbRegistry }
  let registry = holder[kRegistry]
  if (!registry) {
    const created = new KeydbRegistry()
    fastify.decorate(kRegistry, created)
    fastify.decorate('keydb', { getter: () => created.value })
    registry = created
  }
  return registry
}
