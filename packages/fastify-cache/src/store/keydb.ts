import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { withDeadline } from '../deadline.js'
import { storeErrors } from '../errors.js'
import { BatchReader } from './batch-reader.js'
import { type ScriptName, scripts } from './scripts.js'
import type { BusHandlers, CacheStore, LockResult, StoredValue } from './types.js'

type Client = Redis | Cluster

export interface KeydbStoreOptions {
  /** An ioredis `Redis` or `Cluster` (e.g. `fastify.keydb`). Never closed by the store. */
  client: Client
  /** Key prefix of everything the store writes. @default 'fk' */
  namespace?: string
  /**
   * Deadline of every store call, ms. A call that has not answered by then fails and the engine goes
   * to the origin: a slow or frozen KeyDB never holds a request longer than this. @default 200
   */
  commandTimeoutMs?: number
  /**
   * Connection used for the bus (pub/sub needs a dedicated one): a client, or a function returning
   * one (e.g. `() => fastify.keydb.subscriber()`). Without it the store duplicates `client` and closes
   * the duplicate on `close()`.
   */
  subscriber?: Client | (() => Client)
  /**
   * How long a key's generation outlives a delete, ms: fills whose load started before the delete are
   * refused for this long, so a loader must not run longer. @default 3_600_000 (1 h)
   */
  generationTtlMs?: number
}

type ScriptClient = Client & {
  [K in `${ScriptName}Buffer` | ScriptName]: (...args: Array<string | Buffer | number>) => Promise<unknown>
}

export const DEFAULT_STORE_TIMEOUT_MS = 200
export const DEFAULT_GENERATION_TTL_MS = 3_600_000

/** A generation: unique, compared for equality only (right under KeyDB multi-master too). */
function newGeneration(): string {
  return randomBytes(9).toString('base64url')
}

function isCluster(client: Client): client is Cluster {
  return (client as Cluster).isCluster === true
}

/** The KeyDB/Redis store. Layout: `<ns>:e:{key}` entry, `<ns>:l:{key}` lock, `<ns>:g:{key}` generation. */
export class KeydbStore implements CacheStore {
  readonly kind = 'keydb'
  readonly client: Client
  readonly namespace: string
  readonly #timeoutMs: number
  readonly #generationTtlMs: number
  readonly #reader: BatchReader
  readonly #subscriberOption: KeydbStoreOptions['subscriber']
  #ownedSubscriber: Client | undefined
  readonly #channel: string

  constructor(options: KeydbStoreOptions) {
    this.client = options.client
    this.namespace = options.namespace ?? 'fk'
    this.#timeoutMs = options.commandTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS
    this.#generationTtlMs = options.generationTtlMs ?? DEFAULT_GENERATION_TTL_MS
    this.#subscriberOption = options.subscriber
    this.#channel = `${this.namespace}:bus`
    defineScripts(this.client)
    const scripted = this.client as ScriptClient
    this.#reader = new BatchReader(
      (keys) =>
        this.#deadline('read', scripted.fkReadBuffer(keys.length, ...keys)) as Promise<
          Array<Buffer | number | null>
        >,
      isCluster(this.client),
    )
  }

  entryKey(key: string): string {
    return `${this.namespace}:e:{${key}}`
  }

  #lockKey(key: string): string {
    return `${this.namespace}:l:{${key}}`
  }

  #generationKey(key: string): string {
    return `${this.namespace}:g:{${key}}`
  }

  get(key: string): Promise<StoredValue | undefined> {
    return this.#reader.read(this.entryKey(key))
  }

  async set(key: string, value: Buffer, ttlMs: number, generation: string | undefined): Promise<boolean> {
    const px = Math.max(1, Math.ceil(ttlMs))
    if (generation === undefined) {
      await this.#deadline('set', this.client.set(this.entryKey(key), value, 'PX', px))
      return true
    }
    const written = await this.#deadline(
      'set',
      (this.client as ScriptClient).fkSetIfGeneration(
        2,
        this.entryKey(key),
        this.#generationKey(key),
        value,
        px,
        generation,
      ),
    )
    return written === 1
  }

  async delete(keys: readonly string[]): Promise<number> {
    // One script per key: keys of different slots cannot share a call on a cluster.
    const results = await this.#deadline(
      'delete',
      Promise.all(
        keys.map((key) =>
          (this.client as ScriptClient).fkDelete(
            2,
            this.entryKey(key),
            this.#generationKey(key),
            newGeneration(),
            this.#generationTtlMs,
          ),
        ),
      ),
    )
    return results.reduce<number>((sum, n) => sum + Number(n), 0)
  }

  async generation(key: string): Promise<string> {
    const reply = await this.#deadline(
      'generation',
      (this.client as ScriptClient).fkGeneration(
        1,
        this.#generationKey(key),
        newGeneration(),
        this.#generationTtlMs,
      ),
    )
    return String(reply)
  }

  async acquireLock(key: string, token: string, ttlMs: number): Promise<LockResult> {
    const reply = (await this.#deadline(
      'lock',
      (this.client as ScriptClient).fkAcquire(
        2,
        this.#lockKey(key),
        this.#generationKey(key),
        token,
        Math.ceil(ttlMs),
        newGeneration(),
        this.#generationTtlMs,
      ),
    )) as [number, string]
    return { acquired: reply[0] === 1, generation: reply[1] }
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    const released = await this.#deadline(
      'unlock',
      (this.client as ScriptClient).fkRelease(1, this.#lockKey(key), token),
    )
    return released === 1
  }

  /** SCAN (never KEYS) over every master, unlinking page by page. Not fenced against fills in flight. */
  async clear(): Promise<number> {
    const pattern = `${this.namespace.replace(/[*?[\]\\]/g, '\\$&')}:e:*`
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client]
    let removed = 0
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        // The keys of one page may span slots; unlink them one by one on the node that owns them.
        if (keys.length > 0)
          removed += (await Promise.all(keys.map((key) => node.unlink(key)))).reduce((a, b) => a + b, 0)
      } while (cursor !== '0')
    }
    return removed
  }

  async publish(message: string): Promise<void> {
    await this.#deadline('publish', this.client.publish(this.#channel, message))
  }

  async subscribe(handlers: BusHandlers): Promise<() => Promise<void>> {
    const sub = this.#subscriber()
    // `up` turns true only once SUBSCRIBE is acknowledged; a message published before that is lost.
    let subscribed = false
    let up = false
    const onMessage = (channel: string, message: string) => {
      if (channel === this.#channel) handlers.message(message)
    }
    const onReady = () => {
      // After a reconnect ioredis resubscribes by itself; anything published during the gap was lost.
      if (subscribed && !up) {
        up = true
        handlers.reset()
      }
    }
    const onDown = () => {
      if (up) handlers.down()
      up = false
    }
    sub.on('message', onMessage)
    sub.on('ready', onReady)
    sub.on('close', onDown)
    sub.on('end', onDown)
    let retry: NodeJS.Timeout | undefined
    let stopped = false
    const trySubscribe = () => {
      sub.subscribe(this.#channel).then(
        () => {
          subscribed = true
          up = true
          handlers.reset()
        },
        () => {
          onDown()
          if (!stopped) retry = setTimeout(trySubscribe, 1_000).unref()
        },
      )
    }
    trySubscribe()
    return async () => {
      stopped = true
      clearTimeout(retry)
      sub.off('message', onMessage)
      sub.off('ready', onReady)
      sub.off('close', onDown)
      sub.off('end', onDown)
      // With KeyDB down the command would sit in the subscriber's offline queue: never wait long for it.
      await Promise.race([
        sub.unsubscribe(this.#channel).catch(() => {}),
        new Promise((r) => setTimeout(r, 500).unref()),
      ])
    }
  }

  #subscriber(): Client {
    const option = this.#subscriberOption
    if (typeof option === 'function') return option()
    if (option) return option
    // The subscriber keeps an offline queue so SUBSCRIBE issued while KeyDB is down lands once it is up.
    this.#ownedSubscriber ??= isCluster(this.client)
      ? this.client.duplicate(undefined, { enableOfflineQueue: true })
      : this.client.duplicate({ enableOfflineQueue: true })
    this.#ownedSubscriber.on('error', () => {})
    return this.#ownedSubscriber
  }

  async close(): Promise<void> {
    const sub = this.#ownedSubscriber
    this.#ownedSubscriber = undefined
    if (sub) sub.disconnect()
  }

  #deadline<T>(operation: string, promise: Promise<T>): Promise<T> {
    return withDeadline(
      promise,
      this.#timeoutMs,
      () => new storeErrors.FST_CACHE_STORE_TIMEOUT(operation, this.#timeoutMs),
    )
  }
}

function defineScripts(client: Client): void {
  for (const [name, lua] of Object.entries(scripts)) {
    if (!(name in client)) client.defineCommand(name, { lua })
  }
}
