import { describe, expect, it } from 'vitest'
import { TickBatch } from '../../src/extension/index.js'

describe('TickBatch', () => {
  it('asks once per event-loop turn, each key once, and answers every caller', async () => {
    const runs: string[][] = []
    const batch = new TickBatch<string>((keys, settle) => {
      runs.push(keys)
      for (const key of keys) settle(key, key.toUpperCase())
    })
    const first = await Promise.all([batch.get('a'), batch.get('b'), batch.get('a')])
    expect(first).toEqual(['A', 'B', 'A'])
    expect(await batch.get('c')).toBe('C')
    expect(runs).toEqual([['a', 'b'], ['c']])
  })

  it('fails only the keys of a part that failed, and every key when the run throws', async () => {
    const partial = new TickBatch<number>((keys, settle, fail) => {
      for (const key of keys) key === 'bad' ? fail(key, new Error('slot down')) : settle(key, 1)
    })
    const [ok, bad] = await Promise.allSettled([partial.get('good'), partial.get('bad')])
    expect(ok).toEqual({ status: 'fulfilled', value: 1 })
    expect(bad).toMatchObject({ status: 'rejected', reason: { message: 'slot down' } })
    const throwing = new TickBatch<number>(() => {
      throw new Error('bug')
    })
    await expect(Promise.all([throwing.get('x'), throwing.get('y')])).rejects.toThrow('bug')
  })

  it('runs after every request of the poll phase asked (setImmediate), not per microtask', async () => {
    const sizes: number[] = []
    const batch = new TickBatch<number>((keys, settle) => {
      sizes.push(keys.length)
      for (const key of keys) settle(key, 0)
    })
    const asks = [batch.get('1')]
    await Promise.resolve()
    asks.push(batch.get('2'))
    await Promise.all(asks)
    expect(sizes).toEqual([2])
  })
})
