import { describe, expect, it, onTestFinished } from 'vitest'
import { Bus } from '../../src/bus/bus.js'
import type { CacheStore } from '../../src/extension/index.js'
import { MemoryStore } from '../../src/index.js'
import { sleep, storeKits } from '../helpers.js'

function bus(store: CacheStore, id: string) {
  const errors: unknown[] = []
  let resets = 0
  const b = new Bus(store, id, {
    reset: () => resets++,
    silent: () => resets++,
    holding: () => false,
    error: (e) => errors.push(e),
  })
  onTestFinished(() => b.close())
  return { b, errors, resets: () => resets }
}

async function healthy(b: Bus): Promise<void> {
  for (let i = 0; i < 300 && !b.healthy; i++) await sleep(10)
  expect(b.healthy).toBe(true)
}

describe.each(storeKits('bus'))('bus on $name', (kit) => {
  it('is healthy once subscribed; every instance hears a message, told whether it is its own', async () => {
    const { store } = await kit.make()
    const a = bus(store, 'instA')
    const b = bus(kit.twin(store), 'instB')
    expect(a.b.healthy).toBe(false)
    await Promise.all([a.b.start(), b.b.start()])
    await Promise.all([healthy(a.b), healthy(b.b)])
    expect(a.resets()).toBe(1)
    const heard: string[] = []
    a.b.on('x', (payload, fromSelf) => heard.push(`A ${payload} ${fromSelf}`))
    b.b.on('x', (payload, fromSelf) => heard.push(`B ${payload} ${fromSelf}`))
    await a.b.publish('x', 'line one\nline two', 500)
    for (let i = 0; i < 100 && heard.length < 2; i++) await sleep(5)
    expect(heard.sort()).toEqual(['A line one\nline two true', 'B line one\nline two false'])
  })

  it('a confirmed publish resolves once its own echo came back', async () => {
    const { store } = await kit.make()
    const a = bus(store, 'instA')
    await a.b.start()
    await healthy(a.b)
    let echoed = false
    a.b.on('y', () => {
      echoed = true
    })
    await a.b.publish('y', 'p', 2_000)
    expect(echoed).toBe(true)
  })

  it("a listener's error is reported, the other listeners still run; close() makes it unhealthy", async () => {
    const { store } = await kit.make()
    const a = bus(store, 'inst')
    await a.b.start()
    await healthy(a.b)
    let second = false
    a.b.on('z', () => {
      throw new Error('listener bug')
    })
    a.b.on('z', () => {
      second = true
    })
    await a.b.publish('z', '', 2_000)
    expect(second).toBe(true)
    expect(a.errors).toEqual([expect.objectContaining({ message: 'listener bug' })])
    await a.b.close()
    expect(a.b.healthy).toBe(false)
  })
})

describe('bus framing', () => {
  it('ignores messages that are not ours (no sender or kind)', async () => {
    const store = new MemoryStore()
    const a = bus(store, 'inst')
    await a.b.start()
    await healthy(a.b)
    const heard: string[] = []
    a.b.on('k', (payload) => heard.push(payload))
    await store.publish('garbage')
    await store.publish('only-two words')
    await store.publish('other.1 k fine')
    await sleep(5)
    expect(heard).toEqual(['fine'])
    expect(a.errors).toEqual([])
  })
})
