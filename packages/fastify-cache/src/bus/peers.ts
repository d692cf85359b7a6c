/** How long an instance not heard from still counts as a peer (12 heartbeats). */
export const PEER_TTL_MS = 3_000
/**
 * After a gap, the longest this instance waits to hear again from the peers it knew before it. A
 * peer with invalidations it could not apply says so (a holding heartbeat) and replays them before
 * it sends a plain heartbeat again, so once every peer
 * has spoken, the store holds no entry one of them meant to delete. A peer that died (or cannot
 * reach the store) is waited for no longer than this: above @fastkey/fastify-keydb's reconnect
 * backoff cap (2 s), so peers coming back from the same outage are heard in time.
 */
export const SETTLE_MS = 3_000

/**
 * The other instances on the bus, learned from their messages (heartbeats at least), and after a gap
 * in this instance's subscription, the ones it waits to hear from before it trusts the store again.
 */
export class Peers {
  readonly #heardAt = new Map<string, number>()
  /**
   * The newest message (its sequence number) that changed what is known of each peer, kept PEER_TTL_MS
   * after it was last heard (after its goodbye too). A peer's messages can arrive out of order: one
   * published on a single master of a cluster reaches the instances on the other masters by relay
   * (seen 35 ms late), one published on every master (a confirmed holding heartbeat) directly. An
   * older heartbeat arriving after a newer holding one must not release the peer.
   */
  readonly #latest = new Map<string, { seq: number; at: number }>()
  readonly #awaiting = new Set<string>()
  /** Peers whose last heartbeat said they hold invalidations they could not apply. */
  readonly #holding = new Set<string>()
  #gapAt: number | undefined
  #timer: NodeJS.Timeout | undefined

  /** No peer is awaited and none holds invalidations: the store may be used. */
  get settled(): boolean {
    if (this.#holding.size > 0) this.#forgetOld(performance.now())
    return this.#awaiting.size === 0 && this.#holding.size === 0
  }

  /** The instances heard from recently (for logs and tests). */
  get known(): number {
    this.#forgetOld(performance.now())
    return this.#heardAt.size
  }

  /** A plain heartbeat from peer `id` (sequence number `seq`): alive, and not holding if newest. */
  heard(id: string, seq: number): void {
    if (!this.#newest(id, seq)) return
    this.#heardAt.set(id, performance.now())
    this.#holding.delete(id)
    if (this.#awaiting.delete(id) && this.#awaiting.size === 0) this.#stopTimer()
  }

  /**
   * Any other message from peer `id` (invalidations, tags): it is alive and has spoken, but it is not
   * released if holding: a peer replaying what it holds sends its deletes before it knows whether the
   * whole replay succeeded; only its plain heartbeat says it did. Its order is not checked (a drop
   * is safe in any order), except that a late one does not bring back a peer that said goodbye.
   */
  spoke(id: string, seq: number): void {
    if (!this.#heardAt.has(id) && (this.#latest.get(id)?.seq ?? -1) > seq) return
    this.#heardAt.set(id, performance.now())
    if (this.#awaiting.delete(id) && this.#awaiting.size === 0) this.#stopTimer()
  }

  /**
   * A peer is alive but holds invalidations it could not apply: not settled until its plain
   * heartbeat (it replayed them), its goodbye, or PEER_TTL_MS without a word (it died: what it held
   * is lost, and waiting longer would not bring it back).
   */
  holding(id: string, seq: number): void {
    if (!this.#newest(id, seq)) return
    this.#heardAt.set(id, performance.now())
    this.#holding.add(id)
  }

  /** A peer said goodbye (closed): not awaited, not a peer. */
  left(id: string, seq: number): void {
    if (!this.#newest(id, seq)) return
    this.#heardAt.delete(id)
    this.#holding.delete(id)
    if (this.#awaiting.delete(id) && this.#awaiting.size === 0) this.#stopTimer()
  }

  /**
   * This instance's subscription dropped or went silent (the store may be down, frozen or restarting:
   * a peer may be holding invalidations it could not apply).
   */
  gap(): void {
    this.#gapAt ??= performance.now()
  }

  /** The subscription is back after a gap: wait for the peers known before it, SETTLE_MS at most. */
  resumed(): void {
    const gapAt = this.#gapAt
    this.#gapAt = undefined
    if (gapAt === undefined) return
    this.#forgetOld(gapAt)
    for (const id of this.#heardAt.keys()) this.#awaiting.add(id)
    if (this.#awaiting.size === 0) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#awaiting.clear(), SETTLE_MS)
    this.#timer.unref()
  }

  close(): void {
    clearTimeout(this.#timer)
    this.#awaiting.clear()
    this.#holding.clear()
  }

  /** Whether `seq` is the newest message heard from `id` (remembered as such if so). */
  #newest(id: string, seq: number): boolean {
    const latest = this.#latest.get(id)
    const now = performance.now()
    if (latest && latest.seq >= seq) {
      latest.at = now
      return false
    }
    if (latest) Object.assign(latest, { seq, at: now })
    else {
      // A new peer (rare: instances start): also the time to forget the long-gone ones.
      this.#forgetOld(now)
      this.#latest.set(id, { seq, at: now })
    }
    return true
  }

  #forgetOld(now: number): void {
    for (const [id, { at }] of this.#latest) if (now - at > PEER_TTL_MS) this.#latest.delete(id)
    for (const [id, at] of this.#heardAt)
      if (now - at > PEER_TTL_MS) {
        this.#heardAt.delete(id)
        this.#holding.delete(id)
      }
  }

  #stopTimer(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
