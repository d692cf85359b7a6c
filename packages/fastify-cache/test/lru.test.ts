import { describe, expect, it } from 'vitest'
import { Lru } from '../src/util/lru.js'

describe('Lru', () => {
  it('evicts the least recently used by count, never a key just read', () => {
    const lru = new Lru<number>(8, 1_000)
    for (let i = 0; i < 8; i++) lru.set(`k${i}`, i, 1)
    // k0 is the oldest; reading it moves it out of the way of the next eviction.
    expect(lru.get('k0')).toBe(0)
    lru.set('k8', 8, 1)
    expect(lru.peek('k0')).toBe(0)
    expect(lru.peek('k1')).toBeUndefined()
    expect(lru.size).toBe(8)
  })

  it('keeps a hot key through many inserts', () => {
    const lru = new Lru<number>(100, 1_000_000)
    lru.set('hot', 1, 1)
    for (let i = 0; i < 10_000; i++) {
      lru.set(`cold${i}`, i, 1)
      expect(lru.get('hot'), `insert ${i}`).toBe(1)
    }
    expect(lru.size).toBe(100)
  })

  it('is bounded by bytes and refuses a value larger than the budget', () => {
    const lru = new Lru<string>(100, 10)
    expect(lru.set('a', 'a', 4)).toBe(true)
    expect(lru.set('b', 'b', 4)).toBe(true)
    expect(lru.set('c', 'c', 4)).toBe(true)
    expect(lru.bytes).toBeLessThanOrEqual(10)
    expect(lru.peek('a')).toBeUndefined()
    expect(lru.set('huge', 'x', 11)).toBe(false)
    expect(lru.peek('huge')).toBeUndefined()
    lru.delete('b')
    expect(lru.bytes).toBe(4)
    lru.clear()
    expect(lru.size).toBe(0)
    expect(lru.bytes).toBe(0)
  })

  it('a new key is never evicted to make room for itself, even when every other key was read', () => {
    const lru = new Lru<number>(2, 1_000)
    lru.set('a', 1, 1)
    lru.set('b', 2, 1)
    lru.get('a')
    lru.get('b')
    lru.set('c', 3, 1)
    expect(lru.peek('c')).toBe(3)
    expect(lru.size).toBe(2)
    // The marks were spent sparing a and b: the oldest unread one goes next.
    lru.set('d', 4, 1)
    expect(lru.peek('d')).toBe(4)
    expect(lru.size).toBe(2)
  })

  it('spares at most 32 read keys per insert, so one set does bounded work', () => {
    const lru = new Lru<number>(100, 1_000_000)
    for (let i = 0; i < 100; i++) lru.set(`k${i}`, i, 1)
    for (let i = 0; i < 100; i++) lru.get(`k${i}`)
    lru.set('new', 0, 1)
    // k0..k31 were spared (moved to the newest end); the 33rd oldest went although it was read.
    expect(lru.peek('k0')).toBe(0)
    expect(lru.peek('k31')).toBe(31)
    expect(lru.peek('k32')).toBeUndefined()
    expect(lru.peek('k33')).toBe(33)
    expect(lru.size).toBe(100)
  })

  it('a hit does not reorder: an unread key still goes before any read one', () => {
    const lru = new Lru<number>(3, 1_000)
    lru.set('a', 1, 1)
    lru.set('b', 2, 1)
    lru.set('c', 3, 1)
    lru.get('a')
    lru.get('c')
    lru.set('d', 4, 1)
    expect(lru.peek('b')).toBeUndefined()
    expect([...lru.keys()].sort()).toEqual(['a', 'c', 'd'])
  })
})
