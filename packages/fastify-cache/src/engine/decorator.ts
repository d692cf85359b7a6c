import type { Cache } from './cache.js'
import { type CallOptions, resolveCallOptions } from './options.js'
import { DEFAULT_POLICY } from './policy.js'
import { describeValue, invalidOption, optionalFunction } from './validate.js'

export interface CachedOptions<This, Args extends unknown[]> extends CallOptions {
  /**
   * The engine to use: a Cache, or a function of the instance returning one. @default `this.cache`
   * of the decorated instance
   */
  cache?: Cache | ((self: This) => Cache)
  /** Key of a call. @default `<Class>.<method>:<JSON of the arguments>` */
  key?: (...args: Args) => string
}

/**
 * Standard (TC39) method decorator: caches an async method's results through `getOrSet`.
 *
 * ```ts
 * class Products {
 *   constructor(readonly cache: Cache) {}
 *   @cached({ ttlMs: 60_000, key: (id: number) => `product:${id}` })
 *   async byId(id: number) { ... }
 * }
 * ```
 */
export function cached<This, Args extends unknown[], R>(options: CachedOptions<This, Args> = {}) {
  const { cache, key, ...callOptions } = options
  // Checked when the class is defined, against the default policy: a typo fails at load time, not at
  // the first call (the engine's own defaults are only known then, and checked again).
  optionalFunction(key, 'key', invalidOption)
  if (cache !== undefined && typeof cache !== 'function' && typeof cache?.getOrSet !== 'function')
    throw invalidOption(`cache: expected a Cache or a function returning one, got ${describeValue(cache)}`)
  resolveCallOptions(callOptions, DEFAULT_POLICY, true)
  return function decorate(
    method: (this: This, ...args: Args) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<R>>,
  ): (this: This, ...args: Args) => Promise<R> {
    const name = String(context.name)
    return function (this: This, ...args: Args): Promise<R> {
      let engine: Cache
      try {
        engine = resolveEngine(cache, this)
      } catch (error) {
        return Promise.reject(error)
      }
      const className = (this as { constructor?: { name?: string } })?.constructor?.name ?? 'anonymous'
      const cacheKey = key ? key(...args) : `${className}.${name}:${JSON.stringify(args)}`
      return engine.getOrSet(cacheKey, () => method.apply(this, args), callOptions)
    }
  }
}

function resolveEngine<This>(cache: Cache | ((self: This) => Cache) | undefined, self: This): Cache {
  if (typeof cache === 'function') return cache(self)
  if (cache) return cache
  const own = (self as { cache?: Cache } | undefined)?.cache
  if (own && typeof own.getOrSet === 'function') return own
  throw new TypeError('@cached: no cache engine (pass { cache } or give the instance a `cache` property)')
}
