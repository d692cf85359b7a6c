import { describe, expect, it } from 'vitest'
import { sleep, storeKits } from './helpers.js'

describe.each(storeKits('store contract'))('store contract: $name', (kit) => {
  it('misses an absent key and reads back what it wrote with the remaining ttl', async () => {
    const { store } = await kit.make()
    expect(await store.get('a')).toBeUndefined()
    expect(await store.set('a', Buffer.from('hello'), 10_000, undefined)).toBe(true)
    const got = await store.get('a')
    expect(got?.value.toString()).toBe('hello')
    expect(got!.ttlMs).toBeGreaterThan(9_000)
    expect(got!.ttlMs).toBeLessThanOrEqual(10_000)
  })

  it('keeps binary values byte for byte', async () => {
    const { store } = await kit.make()
    const bytes = Buffer.from([0, 255, 1, 254, 0xfc, 0x80, 10, 13])
    await store.set('bin', bytes, 10_000, undefined)
    expect((await store.get('bin'))?.value.equals(bytes)).toBe(true)
  })

  it('expires entries', async () => {
    const { store } = await kit.make()
    await store.set('short', Buffer.from('x'), 50, undefined)
    await sleep(120)
    expect(await store.get('short')).toBeUndefined()
  })

  it('batches concurrent reads and answers each key', async () => {
    const { store } = await kit.make()
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.set(`k${i}`, Buffer.from(String(i)), 10_000, undefined)),
    )
    const values = await Promise.all(Array.from({ length: 60 }, (_, i) => store.get(`k${i}`)))
    for (let i = 0; i < 60; i++) expect(values[i]?.value.toString()).toBe(i < 50 ? String(i) : undefined)
  })

  it('delete removes the entry and bumps the generation so a raced fill loses', async () => {
    const { store } = await kit.make()
    const before = await store.generation('g')
    expect(before).not.toBe('')
    expect(await store.generation('g')).toBe(before)
    await store.set('g', Buffer.from('v1'), 10_000, undefined)
    expect(await store.delete(['g'])).toBe(1)
    expect(await store.get('g')).toBeUndefined()
    const after = await store.generation('g')
    expect(after).not.toBe(before)
    // A fill that saw the old generation is refused; one that saw the new one is written.
    expect(await store.set('g', Buffer.from('old'), 10_000, before)).toBe(false)
    expect(await store.get('g')).toBeUndefined()
    expect(await store.set('g', Buffer.from('new'), 10_000, after)).toBe(true)
    expect((await store.get('g'))?.value.toString()).toBe('new')
    expect(await store.delete(['missing-1', 'missing-2'])).toBe(0)
  })

  it('gives each delete a distinct generation', async () => {
    const { store } = await kit.make()
    const seen = new Set<string>()
    for (let i = 0; i < 5; i++) {
      await store.delete(['d'])
      seen.add(await store.generation('d'))
    }
    expect(seen.size).toBe(5)
  })

  it('locks: one holder at a time, release only with the token, expiry frees it', async () => {
    const { store } = await kit.make()
    const first = await store.acquireLock('l', 'tok-a', 200)
    expect(first).toEqual({ acquired: true, generation: await store.generation('l') })
    expect((await store.acquireLock('l', 'tok-b', 200)).acquired).toBe(false)
    expect(await store.releaseLock('l', 'tok-b')).toBe(false)
    expect((await store.acquireLock('l', 'tok-c', 200)).acquired).toBe(false)
    expect(await store.releaseLock('l', 'tok-a')).toBe(true)
    expect((await store.acquireLock('l', 'tok-d', 100)).acquired).toBe(true)
    await sleep(150)
    expect((await store.acquireLock('l', 'tok-e', 1000)).acquired).toBe(true)
    // tok-d expired and tok-e holds it now: a late release of tok-d must not free tok-e's lock.
    expect(await store.releaseLock('l', 'tok-d')).toBe(false)
    expect((await store.acquireLock('l', 'tok-f', 1000)).acquired).toBe(false)
  })

  it('lock acquisition reports the current generation', async () => {
    const { store } = await kit.make()
    await store.delete(['lg'])
    const generation = await store.generation('lg')
    expect((await store.acquireLock('lg', 't', 1000)).generation).toBe(generation)
  })

  it('clear removes every entry of its namespace and nothing else', async () => {
    const { store } = await kit.make()
    const other = await kit.make()
    await store.set('a', Buffer.from('1'), 10_000, undefined)
    await store.set('b', Buffer.from('2'), 10_000, undefined)
    await other.store.set('a', Buffer.from('other'), 10_000, undefined)
    expect(await store.clear()).toBeGreaterThanOrEqual(2)
    expect(await store.get('a')).toBeUndefined()
    expect(await store.get('b')).toBeUndefined()
    expect((await other.store.get('a'))?.value.toString()).toBe('other')
  })

  it('publishes to every subscriber of the namespace', async () => {
    const { store } = await kit.make()
    const twin = kit.twin(store)
    const received: string[] = []
    let resets = 0
    const subscribed = new Promise<void>((resolve) => {
      void twin
        .subscribe({
          message: (m) => received.push(m),
          reset: () => {
            resets++
            resolve()
          },
          down: () => {},
        })
        .then((unsubscribe) => {
          if (store.kind === 'memory') resolve()
          return unsubscribe
        })
    })
    await subscribed
    await store.publish('hello bus')
    for (let i = 0; i < 50 && received.length === 0; i++) await sleep(10)
    expect(received).toEqual(['hello bus'])
    if (store.kind !== 'memory') expect(resets).toBe(1)
  })
})
