import { describe, expect, it } from 'vitest'
import type { Lookup } from '../../src/engine/freshness.js'
import { type WaitEnd, waitForFill } from '../../src/engine/wait.js'
import { sleep } from '../helpers.js'

const lookup = { freshness: 'fresh', ageMs: 0, tier: 'store', entry: {} } as unknown as Lookup

function waiter(options: {
  read?: () => Promise<Lookup | undefined | null>
  acquired?: () => boolean
  waitMs?: number
}) {
  const wakers = new Map<string, Set<() => void>>()
  const ends: WaitEnd[] = []
  let reads = 0
  const promise = waitForFill({
    key: 'k',
    waitMs: options.waitMs ?? 1_000,
    read: async () => {
      reads++
      return options.read ? await options.read() : undefined
    },
    tryAcquire: async () => ({ acquired: options.acquired?.() ?? false, generation: 'g2' }),
    wakers,
    onDone: (_ms, end) => ends.push(end),
  })
  return { promise, wakers, ends, reads: () => reads }
}

describe('waiting for another instance fill', () => {
  it("ends with the holder's fill as soon as a bus message wakes it", async () => {
    let filled = false
    const w = waiter({ read: async () => (filled ? lookup : undefined) })
    await sleep(5)
    filled = true
    for (const wake of w.wakers.get('k') ?? []) wake()
    expect(await w.promise).toEqual({ filled: lookup })
    expect(w.ends).toEqual(['filled'])
    expect(w.wakers.size).toBe(0) // nothing left registered
  })

  it('takes the lock over when its holder released it without storing (or died)', async () => {
    let released = false
    const w = waiter({ acquired: () => released })
    setTimeout(() => {
      released = true
    }, 30)
    expect(await w.promise).toEqual({ acquired: { acquired: true, generation: 'g2' } })
    expect(w.ends).toEqual(['acquired'])
  })

  it('polls without messages (lost ones), backs off, and gives up at waitMs', async () => {
    const started = performance.now()
    const w = waiter({ waitMs: 300 })
    expect(await w.promise).toBeUndefined()
    expect(performance.now() - started).toBeGreaterThanOrEqual(295)
    expect(w.ends).toEqual(['timeout'])
    // 10, 20, 40, 80, 100, 100 ms between checks: a handful of reads, not one per millisecond.
    expect(w.reads()).toBeGreaterThanOrEqual(3)
    expect(w.reads()).toBeLessThanOrEqual(8)
  })

  it('keeps waiting while the store does not answer (null), without trying the lock', async () => {
    let tries = 0
    const w = waiter({ read: async () => null, acquired: () => ++tries > 0, waitMs: 100 })
    expect(await w.promise).toBeUndefined()
    expect(tries).toBe(0)
  })
})
