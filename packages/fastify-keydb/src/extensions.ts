import type { Cluster, Redis } from 'ioredis'
import type { KeydbClient, KeydbExtensions } from './types.js'

const kRouter = Symbol('fastify-keydb.cluster-subscriber-router')

type ExtensionValues = Omit<KeydbExtensions, 'capabilities'> & {
  capabilities: () => KeydbExtensions['capabilities']
}

/**
 * A Cluster keeps its own pub/sub router in the instance field `subscriber` and calls
 * `this.subscriber.start()/stop()/getInstance()` internally. To offer `subscriber()` on a Cluster too,
 * the field becomes a callable that forwards every other property to the original router.
 */
function clusterSubscriberField(cluster: Cluster, subscriber: () => unknown): unknown {
  const internal = (cluster as unknown as { subscriber?: unknown }).subscriber
  const router = (
    typeof internal === 'function' ? (internal as { [kRouter]?: object })[kRouter] : internal
  ) as Record<PropertyKey, unknown> | undefined
  if (!router || typeof router !== 'object') return subscriber
  const callable = () => subscriber()
  return new Proxy(callable, {
    get(target, property) {
      if (property === kRouter) return router
      if (property in target && !(property in router)) return Reflect.get(target, property)
      const value = router[property]
      return typeof value === 'function' ? value.bind(router) : value
    },
  })
}

/**
 * Adds `health()`, `subscriber()` and `capabilities` to the client object itself, so `fastify.keydb`
 * stays the ioredis instance (identity, `instanceof`, every command). Redefinable: an injected client
 * may be registered again by a later app.
 */
export function augmentClient(client: Redis | Cluster, values: ExtensionValues): KeydbClient {
  const subscriber = client.isCluster
    ? clusterSubscriberField(client as Cluster, values.subscriber)
    : values.subscriber
  Object.defineProperties(client, {
    health: { value: values.health, configurable: true, writable: true },
    subscriber: { value: subscriber, configurable: true, writable: true, enumerable: client.isCluster },
    capabilities: { get: values.capabilities, configurable: true },
  })
  return client as KeydbClient
}
