import type { FastifyInstance } from 'fastify'
import type { Cache } from '../engine/cache.js'
import { errors } from '../errors.js'
import type { ResolvedPluginOptions } from './plugin-options.js'

// What the plugin says at startup, so that no fallback is silent: which store it uses, a
// fastify.keydb it cannot see, routes declared before it loaded (their config.cache is never
// compiled), and another plugin owning `fastify.cache`.

const KEYDB_PLUGIN = '@fastkey/fastify-keydb'

/** Refuses a `fastify.cache` that is already there, naming who owns it. */
export function checkDecoratorFree(fastify: FastifyInstance, isOurs: (value: unknown) => boolean): void {
  if (!fastify.hasDecorator('cache')) return
  if (isOurs((fastify as unknown as { cache: unknown }).cache))
    throw new errors.FST_CACHE_ALREADY_REGISTERED()
  // @fastify/caching decorates fastify.cache (an abstract-cache client) and fastify.cacheSegment.
  const owner = fastify.hasDecorator('cacheSegment') ? '@fastify/caching' : 'another plugin'
  throw new errors.FST_CACHE_DECORATOR_TAKEN(owner)
}

/** One line at info: the store the engine uses, and why. */
export function logChosenStore(fastify: FastifyInstance, cache: Cache, options: ResolvedPluginOptions): void {
  const store = cache.store as { kind: string; keyPrefix?: string }
  const fields = { store: store.kind, ...(store.keyPrefix !== undefined && { keyPrefix: store.keyPrefix }) }
  let how: string
  if ('given' in options.engine) how = `an engine passed as \`cache\` (store "${store.kind}")`
  else if (options.engine.options.store !== undefined) how = `the store passed as \`store\` ("${store.kind}")`
  else if (store.kind === 'keydb')
    how = `KeyDB through fastify.keydb${typeof options.keydb === 'string' ? `.${options.keydb}` : ''} (key prefix "${store.keyPrefix}")`
  else
    how =
      options.keydb === false
        ? 'the in-memory store (`keydb: false`)'
        : 'the in-memory store: no fastify.keydb in this context, entries are not shared between instances'
  fastify.log.info(fields, `fastkey cache: ${how}`)
}

/**
 * At ready: a warning when the cache fell back to memory although @fastkey/fastify-keydb is
 * registered somewhere it could not see (after it, or in a sibling context).
 */
export function warnUnseenKeydb(
  fastify: FastifyInstance,
  cache: Cache,
  options: ResolvedPluginOptions,
): void {
  const fellBack =
    !('given' in options.engine) &&
    options.engine.options.store === undefined &&
    options.keydb === undefined &&
    cache.store.kind === 'memory'
  if (!fellBack) return
  const where = fastify.hasDecorator('keydb')
    ? 'registered after @fastkey/fastify-cache'
    : fastify.printPlugins().includes(KEYDB_PLUGIN)
      ? 'registered in another encapsulated context'
      : undefined
  if (where === undefined) return
  fastify.log.warn(
    `fastkey cache: ${KEYDB_PLUGIN} is ${where}, where the cache cannot see it: the cache uses the in-memory store. Register ${KEYDB_PLUGIN} before @fastkey/fastify-cache, in the same context or a parent (or pass \`keydb: false\` to mean it)`,
  )
}

/**
 * Routes already in the router when the plugin loads were declared before it: its onRoute hook never
 * sees them, so a config.cache on them is ignored (the usual cause: `register()` not awaited, as in
 * any CommonJS app). Resolves their `METHOD path` names.
 */
export function routesDeclaredSoFar(fastify: FastifyInstance): string[] {
  const tree = fastify.printRoutes({ commonPrefix: false })
  const names: string[] = []
  // One node per line: `│   ├── /segment (GET, HEAD)`, nested nodes print the rest of their path.
  const parents: string[] = []
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([^)]+)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    const path = (parents[depth - 1] ?? '') + match[2]
    parents[depth] = path
    parents.length = depth + 1
    for (const method of match[3]?.split(', ') ?? []) if (method !== 'HEAD') names.push(`${method} ${path}`)
  }
  return names
}

/** At ready: a warning naming the routes declared before the plugin loaded (never cached). */
export function warnEarlyRoutes(fastify: FastifyInstance, early: readonly string[]): void {
  if (early.length === 0) return
  const shown = early.slice(0, 10).join(', ') + (early.length > 10 ? `, and ${early.length - 10} more` : '')
  fastify.log.warn(
    { routes: early },
    `fastkey cache: ${early.length} route(s) were declared before @fastkey/fastify-cache loaded and are never cached, whatever their config.cache: ${shown}. Await its register() (in CommonJS: \`await fastify.register(...)\` inside an async start, or declare the routes in a plugin registered after it)`,
  )
}
