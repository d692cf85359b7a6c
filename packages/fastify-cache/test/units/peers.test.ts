import { afterEach, describe, expect, it, vi } from 'vitest'
import { PEER_TTL_MS, Peers, SETTLE_MS } from '../../src/bus/peers.js'

// Who this instance waits for before it trusts the store again: the peers known before its own gap,
// and any peer whose heartbeat says it holds invalidations it could not apply.

describe('Peers', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('after a gap, waits for the peers known before it, SETTLE_MS at most', () => {
    vi.useFakeTimers()
    const peers = new Peers()
    peers.heard('a', 1)
    peers.heard('b', 1)
    peers.gap()
    peers.resumed()
    expect(peers.settled).toBe(false)
    peers.heard('a', 2)
    expect(peers.settled).toBe(false)
    peers.left('b', 2)
    expect(peers.settled).toBe(true)
    peers.gap()
    peers.resumed()
    expect(peers.settled).toBe(false)
    vi.advanceTimersByTime(SETTLE_MS)
    expect(peers.settled).toBe(true)
    peers.close()
  })

  it('a holding peer unsettles it until its plain heartbeat, its goodbye, or PEER_TTL_MS of silence', () => {
    vi.useFakeTimers()
    const peers = new Peers()
    peers.holding('a', 3)
    expect(peers.settled).toBe(false)
    peers.holding('a', 4) // still holding: a holding heartbeat does not count as "replayed"
    expect(peers.settled).toBe(false)
    peers.heard('a', 5)
    expect(peers.settled).toBe(true)
    peers.holding('b', 3)
    peers.left('b', 4)
    expect(peers.settled).toBe(true)
    peers.holding('c', 1)
    vi.advanceTimersByTime(PEER_TTL_MS + 1)
    expect(peers.settled).toBe(true) // it died holding: what it held is lost, waiting brings nothing
    peers.close()
  })

  it('a holding heartbeat after a gap does not end the wait for that peer', () => {
    vi.useFakeTimers()
    const peers = new Peers()
    peers.heard('a', 6)
    peers.gap()
    peers.resumed()
    peers.holding('a', 7) // back on the bus, but it has not replayed yet
    expect(peers.settled).toBe(false)
    peers.heard('a', 8)
    expect(peers.settled).toBe(true)
    peers.close()
  })

  it("follows a peer's newest message only: an older heartbeat arriving late does not release it", () => {
    // On a cluster a plain heartbeat reaches this instance by relay, a confirmed holding one directly.
    const peers = new Peers()
    peers.heard('a', 1)
    peers.holding('a', 3)
    peers.heard('a', 2)
    expect(peers.settled).toBe(false)
    peers.heard('a', 4)
    expect(peers.settled).toBe(true)
    peers.holding('a', 5)
    peers.spoke('a', 6) // a delete of its replay: the replay may still fail
    expect(peers.settled).toBe(false)
    peers.heard('a', 7)
    expect(peers.settled).toBe(true)
    peers.left('a', 9)
    peers.heard('a', 8) // sent before its goodbye
    peers.spoke('a', 8)
    expect(peers.known).toBe(0)
    peers.close()
  })
})
