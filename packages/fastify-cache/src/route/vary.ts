import type { VaryMarker } from '../engine/entry.js'
import { Lru } from '../util/lru.js'

/** Content codings a response of this cache can carry (those @fastify/compress produces). */
const CODINGS = ['br', 'deflate', 'gzip', 'identity', 'zstd']

/**
 * The key part of `accept-encoding`: the codings the client accepts (q > 0) among those a response
 * can carry, sorted. Two requests with the same set may be given the same stored encoding, whichever
 * the filling request got: every coding of the set is acceptable to both. (Keying on the single
 * preferred coding would not be safe: q-values can make two such requests get different ones.)
 * Without the header a response is sent as is: `identity`.
 */
export function acceptableEncodings(header: string | undefined): string {
  if (header === undefined || header.trim() === '') return 'identity'
  const q = new Map<string, number>()
  for (const part of header.toLowerCase().split(',')) {
    const [name, ...params] = part.split(';').map((s) => s.trim())
    if (!name) continue
    const qParam = params.find((p) => p.startsWith('q='))
    const weight = qParam === undefined ? 1 : Number(qParam.slice(2))
    q.set(name === 'x-gzip' ? 'gzip' : name, Number.isFinite(weight) ? weight : 0)
  }
  const star = q.get('*')
  const accepted = CODINGS.filter((coding) => {
    const weight = q.get(coding) ?? (coding === 'identity' ? (star === 0 ? 0 : 1) : star)
    return weight !== undefined && weight > 0
  })
  return accepted.join(',') || 'none'
}

/** What this instance knows of one route key's variants (from its vary marker). */
interface Variants {
  keys: Set<string>
  full: boolean
}

/** Most route keys whose variants an instance remembers (the least recently used go first). */
const MAX_TRACKED_KEYS = 10_000

/**
 * The `vary` of a route as this instance learned it from its responses and from vary markers: the
 * request headers a route's responses vary on beyond its configured `vary`, and, per route key, the
 * variants stored so far (to send requests for more than `maxVariants` variants past the cache).
 */
export class VaryState {
  readonly #configured: readonly string[]
  #learned: readonly string[] = []
  #names: readonly string[]
  readonly #variants = new Lru<Variants>(MAX_TRACKED_KEYS, Number.POSITIVE_INFINITY)

  constructor(configured: readonly string[]) {
    this.#configured = configured
    this.#names = configured
  }

  /** Headers the key is built from: the configured ones, then the learned ones (sorted). */
  get names(): readonly string[] {
    return this.#names
  }

  /** Headers learned beyond the configured ones, comma-separated (what a marker records). */
  get learned(): readonly string[] {
    return this.#learned
  }

  /** Adds headers responses vary on; resolves whether the key changed (new names). */
  learn(names: readonly string[]): boolean {
    const fresh = names.filter((n) => !this.#configured.includes(n) && !this.#learned.includes(n))
    if (fresh.length === 0) return false
    this.#learned = [...this.#learned, ...fresh].sort()
    this.#names = [...this.#configured, ...this.#learned]
    return true
  }

  /** Names of a response's `vary` that a key built from `keyNames` does not include. */
  static missing(names: readonly string[], keyNames: readonly string[]): string[] {
    return names.filter((n) => n !== '*' && !keyNames.includes(n))
  }

  /** Remembers what a marker of `baseKey` says (its variants, whether it is full). */
  noteMarker(baseKey: string, marker: VaryMarker, maxVariants: number): void {
    this.#variants.set(baseKey, { keys: new Set(marker.keys), full: marker.keys.length >= maxVariants }, 1)
  }

  /** Remembers that `variantKey` is stored under `baseKey`, or that `baseKey` refused a new one. */
  noteVariant(baseKey: string, variantKey: string, recorded: boolean): void {
    const known = this.#variants.get(baseKey) ?? { keys: new Set<string>(), full: false }
    if (recorded) known.keys.add(variantKey)
    else known.full = true
    this.#variants.set(baseKey, known, 1)
  }

  /** Whether `variantKey` would be one variant too many for `baseKey` (as far as this instance knows). */
  overLimit(baseKey: string, variantKey: string): boolean {
    const known = this.#variants.get(baseKey)
    return known?.full === true && !known.keys.has(variantKey)
  }
}
