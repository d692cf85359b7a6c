import { setPollAwareTimeout } from '@fastkey/support'
import type { CacheStore, Subscription } from '../stores/types.js'
import { Peers } from './peers.js'

/** Message kinds on the bus. Extensions (tags) may add their own single-letter kinds. */
export const BUS_KEYS_CHANGED = 'k'
export const BUS_KEYS_DELETED = 'd'
export const BUS_CLEAR = 'c'
/** A heartbeat: proves to every instance, the sender included, that its subscription delivers. */
export const BUS_HEARTBEAT = 'h'
/** An instance closing: its peers stop counting it. */
export const BUS_BYE = 'b'
/**
 * The heartbeat of an instance holding invalidations it could not apply (see engine/invalidations.ts):
 * its peers hear it is alive but do not trust the store or their L1 until its plain heartbeat says it
 * has replayed them. On a cluster one master can be down while the bus works: the other instances
 * see no gap of their own, this tells them.
 */
export const BUS_HOLDING = 'p'

/**
 * Liveness of the subscription: an instance publishes a heartbeat every HEARTBEAT_MS (unless it
 * published something else meanwhile) and hears every instance's. Having heard nothing for more than
 * SILENCE_MS (a subscriber connection that stopped delivering while its TCP connection stays open),
 * checked every HEARTBEAT_MS, the bus is unhealthy: L1 is cleared and not used, and the subscriber is
 * reconnected, until messages flow again. So an instance whose bus went deaf stops serving from its
 * L1 within DEAF_BOUND_MS (950 ms) of the last message it heard.
 */
export const HEARTBEAT_MS = 250
export const SILENCE_MS = 700
export const DEAF_BOUND_MS = SILENCE_MS + HEARTBEAT_MS

/**
 * How long an invalidation waits for its own message to come back on the bus: once it has, KeyDB has
 * handed it to every instance, whose L1 drops the key as soon as it reads its socket.
 */
export const BUS_CONFIRM_MS = 100
/** Senders remembered to drop repeats of a message published on every server (a cluster's masters). */
const RECENT_SENDERS = 1_024

export type BusListener = (payload: string, fromSelf: boolean) => void

export interface BusEvents {
  /** The subscription is up again after a gap (or for the first time): messages may have been missed. */
  reset(): void
  /** A failure to report (publish failed, subscription error, silence). */
  error(error: unknown): void
  /** The bus went silent (see SILENCE_MS): forget what L1 holds. */
  silent(): void
  /**
   * Whether this instance holds invalidations it could not apply: its heartbeats are then
   * BUS_HOLDING, so its peers keep waiting for it (see Peers) until it has replayed them.
   */
  holding(): boolean
}

/**
 * Invalidation messages between instances over the store's pub/sub. A message is
 * `<instanceId>.<seq> <kind> <payload>`; every instance, the sender included, hears it.
 * `healthy` is false until the subscription is confirmed and after it drops: while it is false the
 * engine does not trust its in-process tier.
 */
export class Bus {
  readonly instanceId: string
  readonly #store: CacheStore
  readonly #listeners = new Map<string, BusListener[]>()
  readonly #events: BusEvents
  readonly #resetListeners: Array<() => void> = []
  readonly #echoes = new Map<string, () => void>()
  readonly #recent = new Set<string>()
  /** The store's sessions() when the current gap began (undefined: no gap, or no sessions()). */
  #sessionsAtGap: number | undefined
  #seq = 0
  #healthy = false
  #unsubscribe: Subscription | undefined
  #closed = false
  /** performance.now() of the last message heard (any sender) and of the last one published. */
  #heardAt = 0
  #publishedAt = 0
  /**
   * performance.now() of the first message published since the last one heard (0: none since). A
   * subscription is deaf when what this instance said does not come back: if nothing was said (this
   * process's event loop was held, so even its own heartbeats were late), silence proves nothing.
   */
  #askedAt = 0
  /**
   * `proving`: subscribed, its first message (its own heartbeat) not heard yet; `live`: delivering;
   * `silent`: heard nothing for SILENCE_MS, so messages may have been lost.
   */
  #delivery: 'proving' | 'live' | 'silent' = 'proving'
  #heartbeat: NodeJS.Timeout | undefined
  readonly #peers = new Peers()

  constructor(store: CacheStore, instanceId: string, events: BusEvents) {
    this.#store = store
    this.instanceId = instanceId
    this.#events = events
  }

  /** Subscribed, and hearing messages (its own heartbeats at least): L1 may be trusted. */
  get healthy(): boolean {
    return this.#healthy && this.#delivery === 'live'
  }

  /**
   * False for a while after a gap in the subscription: until every peer known before it spoke again
   * (a peer that could not apply invalidations replays them first), SETTLE_MS at most. The engine
   * leaves the store alone meanwhile.
   */
  get settled(): boolean {
    return this.#peers.settled && !this.#storeBackFirst()
  }

  /** A gap in the subscription begins: the subscriber dropped, or heard nothing for SILENCE_MS. */
  #gap(): void {
    this.#peers.gap()
    this.#sessionsAtGap ??= this.#store.sessions?.()
  }

  #resumed(): void {
    this.#sessionsAtGap = undefined
    this.#peers.resumed()
  }

  /**
   * The store reconnected while the subscription is still down (after a KeyDB restart the two
   * connections come back in either order): a peer may hold invalidations for entries the server
   * restored, and their replay cannot be heard yet. Unsettled until the subscription is back, when
   * the peers known before the gap are awaited. A bus that is only deaf (the store never dropped)
   * leaves the store in use.
   */
  #storeBackFirst(): boolean {
    const atGap = this.#sessionsAtGap
    return atGap !== undefined && this.#store.sessions!() !== atGap
  }

  /** Instances heard from in the last few seconds, this one excluded. */
  get peers(): number {
    return this.#peers.known
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#store.subscribe({
      message: (message) => this.#dispatch(message),
      reset: () => this.#reset(),
      down: () => {
        this.#healthy = false
        this.#gap()
      },
    })
    if (this.#beating && !this.#closed) {
      this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS)
      this.#heartbeat.unref()
    }
  }

  /** An in-process bus cannot go deaf; any other may (a half-open subscriber connection). */
  get #beating(): boolean {
    return this.#store.location.kind !== 'process'
  }

  #beat(): void {
    // After the poll phase: a timer late because the event loop was blocked must not find the
    // messages still unread in the socket and call that silence.
    setImmediate(() => this.#check())
  }

  #check(): void {
    if (!this.#healthy || this.#closed) return // not subscribed: the store reconnects, reset() follows
    const now = performance.now()
    if (now - this.#heardAt > SILENCE_MS && this.#unansweredFor(now) > SILENCE_MS - HEARTBEAT_MS) {
      if (this.#delivery !== 'silent') {
        // A gap for Peers too: a frozen store looks the same from here as a deaf subscriber.
        this.#delivery = 'silent'
        this.#gap()
        this.#events.error(new Error(`the bus heard nothing for ${SILENCE_MS} ms: L1 is off until it does`))
        this.#events.silent()
      }
      // Drop the subscriber's connection and subscribe again; again after each silent period.
      this.#heardAt = now
      this.#unsubscribe?.restart?.()
    }
    // Half a period, not a whole one: a check lands a hair under HEARTBEAT_MS after the previous
    // beat as often as not, and skipping it then made an idle instance speak every 500 ms; a busy
    // turn of 200 ms more read as a deaf subscription.
    if (now - this.#publishedAt >= HEARTBEAT_MS / 2) this.#sendHeartbeat()
  }

  /**
   * How long the oldest message published since the last one heard has gone unanswered. At the usual
   * beat, a check that finds SILENCE_MS of silence finds a question at least 500 ms old (a heartbeat
   * goes out at most 375 ms after the last message heard), so a deaf subscription is still noticed
   * within DEAF_BOUND_MS; after a held loop the check first asks, and decides a beat or two later.
   */
  #unansweredFor(now: number): number {
    return this.#askedAt === 0 ? 0 : now - this.#askedAt
  }

  /** Speaks now (a heartbeat): after it replayed what it held, or when it starts holding. */
  announce(): void {
    if (this.#healthy && this.#beating) this.#sendHeartbeat()
  }

  #sendHeartbeat(): void {
    this.publish(this.#events.holding() ? BUS_HOLDING : BUS_HEARTBEAT, '').catch(() => {
      // Silence detection covers a heartbeat that could not be sent: no log line per beat.
    })
  }

  /** Runs `listener` whenever the subscription is (re)established: drop anything memoised from the bus. */
  onReset(listener: () => void): void {
    this.#resetListeners.push(listener)
  }

  /** The subscription is (re)established: anything sent meanwhile was lost. */
  #reset(): void {
    this.#healthy = !this.#closed
    this.#heardAt = performance.now()
    this.#askedAt = 0
    this.#resumed()
    this.#forget()
    // Trusted once it delivers: its own heartbeat, sent now, proves it within a round trip.
    this.#delivery = this.#beating ? 'proving' : 'live'
    if (this.#beating && this.#healthy) this.#sendHeartbeat()
  }

  #forget(): void {
    this.#events.reset()
    for (const listener of this.#resetListeners) listener()
  }

  on(kind: string, listener: BusListener): void {
    const list = this.#listeners.get(kind)
    if (list) list.push(listener)
    else this.#listeners.set(kind, [listener])
  }

  /**
   * Publishes a message. With `confirmMs`, also waits (at most that long) until the message comes
   * back on this instance's own subscription: the server delivers a message to every subscriber at
   * once, so by then it has been handed to every other instance too.
   */
  async publish(kind: string, payload: string, confirmMs = 0): Promise<void> {
    const sender = `${this.instanceId}.${++this.#seq}`
    this.#publishedAt = performance.now()
    if (this.#askedAt === 0) this.#askedAt = this.#publishedAt
    if (confirmMs <= 0 || !this.healthy) {
      await this.#store.publish(`${sender} ${kind} ${payload}`)
      return
    }
    // Waited on: every server of the store must have handed it over when this resolves (everyNode).
    const message = `${sender} ${kind} ${payload}`
    let timer: NodeJS.Timeout | undefined
    const echoed = new Promise<void>((resolve) => {
      this.#echoes.set(sender, resolve)
      // An echo that waited behind a held event loop is read first.
      timer = setPollAwareTimeout(resolve, confirmMs)
    })
    try {
      await this.#store.publish(message, { everyNode: true })
      await echoed
    } finally {
      clearTimeout(timer)
      this.#echoes.delete(sender)
    }
  }

  #dispatch(message: string): void {
    this.#heardAt = performance.now()
    this.#askedAt = 0
    if (this.#delivery !== 'live') {
      // Messages flow again after a silence: what was sent meanwhile is lost, as after a reconnect.
      if (this.#delivery === 'silent') {
        this.#resumed()
        this.#forget()
      }
      this.#delivery = 'live'
    }
    const first = message.indexOf(' ')
    const second = message.indexOf(' ', first + 1)
    if (first < 0 || second < 0) return
    const kind = message.slice(first + 1, second)
    const sender = message.slice(0, first)
    if (this.#repeated(sender)) return
    const fromSelf = sender.startsWith(this.instanceId) && sender[this.instanceId.length] === '.'
    if (fromSelf) this.#echoes.get(sender)?.()
    else {
      const dot = sender.lastIndexOf('.')
      const [peer, seq] = [sender.slice(0, dot), Number(sender.slice(dot + 1))]
      if (kind === BUS_BYE) this.#peers.left(peer, seq)
      else if (kind === BUS_HOLDING) this.#peers.holding(peer, seq)
      else if (kind === BUS_HEARTBEAT) this.#peers.heard(peer, seq)
      else this.#peers.spoke(peer, seq)
    }
    const list = this.#listeners.get(kind)
    if (!list) return
    const payload = message.slice(second + 1)
    for (const listener of list) {
      try {
        listener(payload, fromSelf)
      } catch (error) {
        this.#events.error(error)
      }
    }
  }

  /**
   * Whether `sender` (a message's unique `<instanceId>.<seq>`) was heard already: a message published
   * on every server of a cluster arrives once from each. Remembers the last RECENT_SENDERS.
   */
  #repeated(sender: string): boolean {
    if (this.#recent.has(sender)) return true
    this.#recent.add(sender)
    if (this.#recent.size > RECENT_SENDERS) this.#recent.delete(this.#recent.values().next().value!)
    return false
  }

  async close(): Promise<void> {
    // Peers waiting for this instance after a gap need not wait out SETTLE_MS.
    if (this.healthy) await this.publish(BUS_BYE, '').catch(() => {})
    this.#closed = true
    this.#healthy = false
    clearInterval(this.#heartbeat)
    this.#peers.close()
    await this.#unsubscribe?.()
  }
}
