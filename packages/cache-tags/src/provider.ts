import type {
  SealResult,
  TagCapture,
  TagContext,
  TagProvider,
  TagVerdict,
  Topology,
} from '@fastkey/fastify-cache/extension'
import type { VersionBackend } from './backend.js'
import { ClockSkewWatch, REPLICATED_CLOCK_SKEW_MS } from './clock-skew.js'
import { errors } from './errors.js'
import { IndexJobs } from './index-jobs.js'
import { VersionMemo } from './memo.js'
import { memoryVersionsOf } from './memory-backend.js'
import { type ResolvedTagOptions, resolveTagOptions, type TagProviderOptions } from './options.js'
import { VersionReader } from './reader.js'
import { RedisVersions } from './redis-backend.js'
import { MAX_TAGS_PER_INVALIDATION, validateTags } from './validate.js'
import {
  type CapturedTag,
  decodeRecorded,
  type RecordedTag,
  recordFill,
  type TagVersions,
  verdictOf,
} from './versions.js'

/** Bus message kind: payload = invalidated tags, one per line; listeners evict their memoised versions. */
export const BUS_TAGS = 't'
const MAX_PARSED = 10_000
const CLOCK_TICK_MS = 25

interface Capture {
  /** Backend time before the load: decides for tags that were not known at `begin`. */
  mark: number
  /** Versions of the tags known at `begin`, read before the load. */
  versions?: Map<string, CapturedTag>
  /** The tags given to `begin` were invalid: reported at `seal`, nothing is stored. */
  invalid?: unknown
}

/** Counters for tests, benchmarks and dashboards. */
export interface TagProviderStats {
  /** Fills not stored because a hard invalidation (or a delete) raced their load. */
  raced: number
  /** Fills stored already stale because a soft invalidation raced their load. */
  racedSoft: number
  /** Reads of tagged entries answered from memoised versions (no round trip). */
  memoHits: number
  /** Reads of tagged entries that had to read versions from the store. */
  memoMisses: number
  /** Tags whose versions are memoised now. */
  memoSize: number
}

/**
 * Tag versions (DESIGN 6): invalidating a tag writes one new version (one single-key write, however
 * many entries carry it); an entry records its tags' versions and a read whose recorded version
 * differs is a miss (hard) or stale (soft). Plugs into @fastkey/fastify-cache as its `tags` provider.
 */
export class TagVersionProvider implements TagProvider {
  readonly options: ResolvedTagOptions
  readonly #memo: VersionMemo
  /** Parsed recorded strings (`null`: not ours); a hit reads the same few strings again and again. */
  readonly #parsed = new Map<string, RecordedTag[] | null>()
  #context: TagContext | undefined
  #backend: VersionBackend | undefined
  #reader: VersionReader | undefined
  #index: IndexJobs | undefined
  #stats = { raced: 0, racedSoft: 0, memoHits: 0, memoMisses: 0 }
  /**
   * A coarse clock for memo expiry on the read path (a clock read costs ~70 ns here, as much as the
   * rest of a check): memoised versions live at most `versionTtlMs` + one tick.
   */
  #clock = performance.now()
  #ticker: NodeJS.Timeout | undefined
  #skew: ClockSkewWatch | undefined
  /** Start-up work `ready()` waits for: topology detection, the invalidation mark. Never rejects. */
  readonly #starting: Array<Promise<void>> = []

  constructor(options?: TagProviderOptions) {
    this.options = resolveTagOptions(options)
    this.#memo = new VersionMemo(this.options.versionTtlMs, this.options.maxMemoTags)
  }

  get stats(): TagProviderStats {
    return { ...this.#stats, memoSize: this.#memo.size }
  }

  /** 'keydb' or 'memory' once attached. */
  get backendKind(): 'keydb' | 'memory' | undefined {
    return this.#backend?.kind
  }

  /** Whether the KeyDB member index is in use (asked for, and the server answered as KeyDB). */
  get memberIndexActive(): boolean {
    return this.#index?.active === true
  }

  /**
   * The clock margin route fills use now, ms: the `clockSkewMs` option when given, else derived from
   * the detected topology (0 on masters without replicas, REPLICATED_CLOCK_SKEW_MS otherwise and until
   * the servers answered). 0 with the memory store (its clock is a sequence).
   */
  get clockSkewMs(): number {
    return this.#backend instanceof RedisVersions ? this.#backend.clockSkewMs : 0
  }

  /** What the servers answered about replication (`undefined` until then, or with the option set). */
  get topology(): Topology | undefined {
    return this.#skew?.topology
  }

  /**
   * Resolves once start-up detection is done: whether the KeyDB member index runs, the topology the
   * default `clockSkewMs` comes from, the invalidation mark. Bounded by `commandTimeoutMs`; never rejects.
   */
  async ready(): Promise<void> {
    await Promise.all([this.#index?.detected, ...this.#starting])
  }

  attach(context: TagContext): void {
    if (this.#context) throw new errors.FST_CACHE_TAGS_ALREADY_ATTACHED()
    const location = context.store
    if (location.kind === 'process') this.#backend = memoryVersionsOf(location.scope)
    else if (location.kind === 'redis') {
      const { client, keyPrefix } = location
      const versions = new RedisVersions({
        client,
        keyPrefix,
        ...this.options,
        clockSkewMs: this.options.clockSkewMs ?? REPLICATED_CLOCK_SKEW_MS,
      })
      this.#backend = versions
      // A failure leaves the mark missing: route fills of new tags are then refused (fail safe).
      this.#starting.push(versions.ensureMark().catch(() => {}))
      if (this.options.clockSkewMs === undefined) {
        const skew = new ClockSkewWatch(client, this.options.commandTimeoutMs, (ms) => {
          versions.clockSkewMs = ms
        })
        this.#skew = skew
        this.#starting.push(skew.start())
        // A reconnect may follow a failover: ask again.
        context.bus.onReset(() => void skew.detect())
      }
      if (this.options.memberIndex)
        this.#index = new IndexJobs(location, this.options, (operation, error) =>
          context.report(operation, error),
        )
    } else throw new errors.FST_CACHE_TAGS_UNSUPPORTED_STORE(String((location as { kind?: unknown }).kind))
    this.#context = context
    const backend = this.#backend
    this.#reader = new VersionReader(
      backend,
      () => this.#memo.epoch,
      (versions, epoch) => this.#memoise(versions, epoch),
    )
    if (!backend.readSync && this.options.versionTtlMs > 0) {
      const tick = Math.min(CLOCK_TICK_MS, this.options.versionTtlMs)
      this.#ticker = setInterval(() => {
        this.#clock = performance.now()
      }, tick).unref()
    }
    context.bus.on(BUS_TAGS, (payload, fromSelf) => {
      this.#memo.evict(payload.split('\n'))
      // Loads in flight here may hold data the other instance just invalidated: no new joiners.
      if (!fromSelf) context.forgetLoadsInFlight()
    })
    // Messages may have been missed while the subscription was down: forget everything memoised.
    context.bus.onReset(() => this.#memo.clear())
  }

  async begin(tags: readonly string[] | undefined): Promise<TagCapture> {
    const backend = this.#attached().backend
    const mark = backend.mark()
    if (tags === undefined) return { mark } satisfies Capture
    let list: readonly string[]
    try {
      list = validateTags(tags)
    } catch (invalid) {
      // Not thrown here: the engine would count it as a store failure and trip its breaker.
      return { mark, invalid } satisfies Capture
    }
    if (list.length === 0) return { mark, versions: new Map() } satisfies Capture
    return { mark, versions: await backend.capture(list, undefined) } satisfies Capture
  }

  async seal(
    capture: TagCapture,
    tags: readonly string[],
    entry?: { key: string; ttlMs: number },
  ): Promise<SealResult> {
    const { context, backend } = this.#attached()
    const c = capture as Capture
    let list: readonly string[]
    try {
      if (c.invalid !== undefined) throw c.invalid
      list = validateTags(tags)
    } catch {
      // Not a failure of anything: the engine counts the skip and serves the response as it is.
      return { refused: 'invalid-tags' }
    }
    if (list.length === 0) return { recorded: '' }
    const epoch = this.#memo.epoch
    let current: Map<string, CapturedTag>
    try {
      current = await backend.capture(list, c.mark)
    } catch (error) {
      context.report('read', error)
      return { refused: 'unavailable' }
    }
    const sealed = recordFill(list, current, c.versions)
    if (sealed === undefined) {
      this.#stats.raced++
      return { refused: 'raced' }
    }
    if (sealed.softRaced) this.#stats.racedSoft++
    this.#memoise(current, epoch)
    if (entry) this.#index?.record(list, entry)
    return { recorded: sealed.recorded }
  }

  check(recorded: string): TagVerdict | Promise<TagVerdict> {
    const tags = this.#decode(recorded)
    if (tags === undefined) return 'invalid'
    const backend = this.#backend
    if (!backend) throw new errors.FST_CACHE_TAGS_NOT_ATTACHED()
    if (backend.readSync) return verdictOf(tags, (tag) => backend.readSync!(tag))
    if (this.#context!.bus.healthy) {
      const now = this.#clock
      let verdict: TagVerdict = 'valid'
      let i = 0
      for (; i < tags.length; i++) {
        const t = tags[i]!
        const memoised = this.#memo.get(t.tag, now)
        if (memoised === undefined) break
        if (memoised.hard !== t.hard) {
          this.#stats.memoHits++
          return 'invalid'
        }
        if (memoised.soft !== t.soft) verdict = 'stale'
      }
      if (i === tags.length) {
        this.#stats.memoHits++
        return verdict
      }
    }
    this.#stats.memoMisses++
    const reader = this.#reader!
    return Promise.all(tags.map((t) => reader.read(t.tag))).then((versions) => {
      const byTag = new Map(tags.map((t, i) => [t.tag, versions[i]!]))
      return verdictOf(tags, (tag) => byTag.get(tag))
    })
  }

  /** Throws FST_CACHE_TAGS_INVALID_TAG / TOO_MANY for tags a caller passes to getOrSet, set or wrap. */
  validate(tags: readonly string[]): void {
    validateTags(tags)
  }

  async invalidate(tags: readonly string[], mode: 'soft' | 'hard'): Promise<void> {
    const { context, backend } = this.#attached()
    if (mode !== 'soft' && mode !== 'hard')
      throw new errors.FST_CACHE_TAGS_INVALID_OPTION(`mode: expected 'soft' or 'hard', got ${String(mode)}`)
    const list = validateTags(tags, MAX_TAGS_PER_INVALIDATION, 'per invalidation')
    if (list.length === 0) return
    try {
      await backend.invalidate(list, mode)
    } catch (error) {
      context.report('invalidate', error)
      throw error
    }
    this.#memo.evict(list)
    if (backend.kind === 'keydb') {
      try {
        // Resolve once KeyDB has handed the eviction to every instance (our own copy came back).
        await context.bus.broadcast(BUS_TAGS, list.join('\n'))
      } catch (error) {
        context.report('publish', error)
        throw new errors.FST_CACHE_TAGS_PUBLISH_FAILED({ cause: error })
      }
    }
    if (mode === 'hard') this.#index?.purge(list)
  }

  names(recorded: string): readonly string[] {
    return this.#decode(recorded)?.map((t) => t.tag) ?? []
  }

  /** Waits for index work started in the background (KeyDB member index). */
  async close(): Promise<void> {
    clearInterval(this.#ticker)
    this.#skew?.close()
    await this.#index?.close()
  }

  #attached(): { context: TagContext; backend: VersionBackend } {
    if (!this.#context || !this.#backend) throw new errors.FST_CACHE_TAGS_NOT_ATTACHED()
    return { context: this.#context, backend: this.#backend }
  }

  #memoise(versions: Map<string, TagVersions>, epoch: number): void {
    // Never memoise without a bus to evict it: another instance's invalidation would go unheard.
    if (this.#backend?.readSync || !this.#context?.bus.healthy) return
    this.#clock = performance.now()
    for (const [tag, v] of versions) this.#memo.set(tag, { hard: v.hard, soft: v.soft }, epoch, this.#clock)
  }

  #decode(recorded: string): RecordedTag[] | undefined {
    const cached = this.#parsed.get(recorded)
    if (cached !== undefined) return cached ?? undefined
    const tags = decodeRecorded(recorded)
    if (this.#parsed.size >= MAX_PARSED) this.#parsed.clear()
    this.#parsed.set(recorded, tags ?? null)
    return tags
  }
}

/** Creates the tag provider to pass as `tags` to `fastifyCache` or `new Cache()` (one per engine). */
export function createTagProvider(options?: TagProviderOptions): TagVersionProvider {
  return new TagVersionProvider(options)
}
