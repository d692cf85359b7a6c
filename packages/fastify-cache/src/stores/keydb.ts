import { randomBytes } from 'node:crypto'
import { defineScripts, withDeadline } from '@fastkey/support'
import type { Cluster, Redis } from 'ioredis'
import { storeErrors } from '../errors.js'
import { BatchReader } from './batch-reader.js'
import { type KeydbStoreOptions, resolveKeydbStoreOptions } from './keydb-options.js'
import { type ScriptName, scripts } from './keydb-scripts.js'
import { awaitReplicas } from './replicas.js'
import type {
  BusHandlers,
  CacheStore,
  LockResult,
  StoredValue,
  StoreLocation,
  Subscription,
} from './types.js'

type Client = Redis | Cluster

type ScriptClient = Client & {
  [K in `${ScriptName}Buffer` | ScriptName]: (...args: Array<string | Buffer | number>) => Promise<unknown>
}

/** A generation: unique, compared for equality only (right under KeyDB multi-master too). */
function newGeneration(): string {
  return randomBytes(9).toString('base64url')
}

function isCluster(client: Client): client is Cluster {
  return (client as Cluster).isCluster === true
}

/** The KeyDB/Redis store. Layout: `<ns>:e:{key}` entry, `<ns>:l:{key}` lock, `<ns>:g:{key}` generation. */
export class KeydbStore implements CacheStore {
  readonly kind: string = 'keydb'
  readonly client: Client
  readonly keyPrefix: string
  readonly location: StoreLocation
  /** `commandTimeoutMs`: the deadline of every call. */
  readonly deadlineMs: number
  readonly #timeoutMs: number
  readonly #generationTtlMs: number
  readonly #replicaAckMs: number
  readonly #reader: BatchReader
  readonly #subscriberOption: KeydbStoreOptions['subscriber']
  #ownedSubscriber: Client | undefined
  readonly #channel: string
  #sessions = 0
  readonly #sessionStarted = () => {
    this.#sessions++
  }

  constructor(options: KeydbStoreOptions) {
    const resolved = resolveKeydbStoreOptions(options)
    this.client = resolved.client
    this.keyPrefix = resolved.keyPrefix
    this.#timeoutMs = resolved.commandTimeoutMs
    this.deadlineMs = resolved.commandTimeoutMs
    this.#generationTtlMs = resolved.generationTtlMs
    this.#replicaAckMs = resolved.replicaAckMs
    this.#subscriberOption = resolved.subscriber
    this.#channel = `${this.keyPrefix}:bus`
    this.location = {
      kind: 'redis',
      client: this.client,
      keyPrefix: this.keyPrefix,
      entryKey: (key) => this.entryKey(key),
    }
    // A connection (or, on a cluster, a node) that is ready again: see sessions().
    this.client.on('ready', this.#sessionStarted)
    if (isCluster(this.client)) this.client.on('+node', this.#sessionStarted)
    defineScripts(this.client, scripts)
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
    return `${this.keyPrefix}:e:{${key}}`
  }

  #lockKey(key: string): string {
    return `${this.keyPrefix}:l:{${key}}`
  }

  #generationKey(key: string): string {
    return `${this.keyPrefix}:g:{${key}}`
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
          (this.client as ScriptClient).fkDelete(2, this.entryKey(key), this.#generationKey(key)),
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

  async acquireLock(key: string, token: string, ttlMs: number, ifEmpty = false): Promise<LockResult> {
    const reply = (await this.#deadline(
      'lock',
      (this.client as ScriptClient).fkAcquire(
        3,
        this.#lockKey(key),
        this.#generationKey(key),
        this.entryKey(key),
        token,
        Math.ceil(ttlMs),
        token, // the generation it creates, if the key has none (see CacheStore.acquireLock)
        this.#generationTtlMs,
        ifEmpty ? '1' : '',
      ),
    )) as [number, string]
    if (reply[0] === 2) return { acquired: false, generation: '', filled: true }
    return { acquired: reply[0] === 1, generation: reply[1] }
  }

  async releaseLock(key: string, token: string, generation?: string): Promise<boolean> {
    const released = await this.#deadline(
      'unlock',
      (this.client as ScriptClient).fkRelease(
        2,
        this.#lockKey(key),
        this.#generationKey(key),
        token,
        generation ?? '',
      ),
    )
    return released === 1
  }

  async addVariant(
    key: string,
    variantKey: string,
    names: string,
    max: number,
    ttlMs: number,
  ): Promise<boolean> {
    const recorded = await this.#deadline(
      'set',
      (this.client as ScriptClient).fkVary(
        1,
        this.entryKey(key),
        names,
        variantKey,
        max,
        Math.max(1, Math.ceil(ttlMs)),
      ),
    )
    return recorded === 1
  }

  /** SCAN (never KEYS) over every master, unlinking page by page. Not fenced against fills in flight. */
  async clear(): Promise<number> {
    const pattern = `${this.keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}:e:*`
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

  async awaitReplicas(): Promise<void> {
    // WAIT with a timeout of 0 would block forever: 0 turns the wait off instead.
    if (this.#replicaAckMs === 0) return
    const { attached, acked } = await withDeadline(
      awaitReplicas(this.client, this.#replicaAckMs),
      this.#timeoutMs + this.#replicaAckMs,
      () => new storeErrors.FST_CACHE_STORE_TIMEOUT('replicate', this.#timeoutMs + this.#replicaAckMs),
    )
    if (acked < attached)
      throw new storeErrors.FST_CACHE_STORE_REPLICATION(acked, attached, this.#replicaAckMs)
  }

  async publish(message: string, options?: { everyNode?: boolean }): Promise<void> {
    if (!options?.everyNode || !isCluster(this.client)) {
      await this.#deadline('publish', this.client.publish(this.#channel, message))
      return
    }
    // A master answers PUBLISH once it handed the message to its own subscribers, but relays it to the
    // other masters' subscribers over the cluster bus only later: an instance subscribed on another
    // master could still read the entry this message invalidates after the sender went on. Published
    // on every master, each has handed it over when it answers. One that cannot answer (frozen, down)
    // does not fail the publish while another took it: its subscribers hear nothing and see a gap.
    const outcomes = await Promise.allSettled(
      this.client
        .nodes('master')
        .map((node) => this.#deadline('publish', node.publish(this.#channel, message))),
    )
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
    if (failed && outcomes.every((o) => o.status === 'rejected')) throw failed.reason
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
    const unsubscribe: Subscription = async () => {
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
    // A connection that stopped delivering (half-open TCP) is dropped; ioredis reconnects and
    // resubscribes by itself, and `ready` then reports the gap.
    unsubscribe.restart = () => {
      if (!stopped) sub.disconnect(true)
    }
    return unsubscribe
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

  /**
   * Counts the client's connections becoming ready (and a cluster's nodes joining): a change while
   * the bus subscription is down means the store came back before the bus did.
   */
  sessions(): number {
    return this.#sessions
  }

  async close(): Promise<void> {
    this.client.off('ready', this.#sessionStarted)
    this.client.off('+node', this.#sessionStarted)
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
