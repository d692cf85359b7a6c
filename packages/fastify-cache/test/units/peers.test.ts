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
    peers.heard('a')
    peers.heard('b')
    peers.gap()
    peers.resumed()
    expect(peers.settled).toBe(false)
    peers.heard('a')
    expect(peers.settled).toBe(false)
    peers.left('b')
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
    peers.holding('a')
    expect(peers.settled).toBe(false)
    peers.holding('a') // still holding: a holding heartbeat does not count as "replayed"
    expect(peers.settled).toBe(false)
    peers.heard('a')
    expect(peers.settled).toBe(true)
    peers.holding('b')
    peers.left('b')
    expect(peers.settled).toBe(true)
    peers.holding('c')
    vi.advanceTimersByTime(PEER_TTL_MS + 1)
    expect(peers.settled).toBe(true) // it died holding: what it held is lost, waiting brings nothing
    peers.close()
  })

  it('a holding heartbeat after a gap does not end the wait for that peer', () => {
    vi.useFakeTimers()
    const peers = new Peers()
    peers.heard('a')
    peers.gap()
    peers.resumed()
    peers.holding('a') // back on the bus, but it has not replayed yet
    expect(peers.settled).toBe(false)
    peers.heard('a')
    expect(peers.settled).toBe(true)
    peers.close()
  })
})
