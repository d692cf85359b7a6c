import { Packr } from 'msgpackr'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Cache, jsonSerializer, type Serializer } from '../src/index.js'
import { storeKits } from './helpers.js'

// What a service call returns on a hit is what it returned on the miss, for the values the serializer
// carries: with the default JSON one, JSON values plus Date and Buffer at any depth.

const VALUE = {
  id: 7,
  name: 'écran 4K',
  tags: ['tv', 'sale'],
  price: 199.5,
  inStock: true,
  discontinued: null,
  createdAt: new Date('2026-12-01T10:00:00.000Z'),
  thumbnail: Buffer.from([0, 1, 2, 0xfd, 0xfe, 0xff]),
  history: [{ at: new Date('2026-11-30T08:00:00.000Z'), raw: Buffer.from('x') }],
}

describe('the default serializer', () => {
  it('round-trips JSON values, Date and Buffer at any depth', () => {
    const back = jsonSerializer.deserialize(jsonSerializer.serialize(VALUE)) as typeof VALUE
    expect(back).toEqual(VALUE)
    expect(back.createdAt).toBeInstanceOf(Date)
    expect(Buffer.isBuffer(back.thumbnail)).toBe(true)
    expect(back.history[0]!.at).toBeInstanceOf(Date)
    expect(jsonSerializer.deserialize(jsonSerializer.serialize(new Date(Number.NaN)))).toEqual(
      new Date(Number.NaN),
    )
    expect(jsonSerializer.deserialize(jsonSerializer.serialize(Buffer.alloc(0)))).toEqual(Buffer.alloc(0))
  })

  it('refuses what it cannot carry back (BigInt, an object using its marker key)', () => {
    expect(() => jsonSerializer.serialize(10n)).toThrow()
    expect(() => jsonSerializer.serialize({ '\u0000fk': 'date', v: 'x' })).toThrow(TypeError)
  })
})

/** The msgpack serializer the README documents (msgpackr with structured clone: Date, Buffer, Map, Set, BigInt). */
const packr = new Packr({ structuredClone: true })
const msgpack: Serializer = {
  name: 'msgpack',
  serialize: (value) => packr.pack(value),
  deserialize: (bytes) => packr.unpack(bytes),
}

describe.each(storeKits('serializers'))('service calls on $name', (kit) => {
  it('a hit returns the same types the miss returned (default JSON serializer)', async () => {
    const { store } = await kit.make()
    const cache = new Cache({ store })
    onTestFinished(() => cache.close())
    const miss = await cache.getOrSet('v', async () => VALUE)
    const hit = await cache.getOrSet('v', async () => ({}) as typeof VALUE)
    expect(miss).toBe(VALUE)
    expect(hit).toEqual(VALUE)
    expect(hit.createdAt).toBeInstanceOf(Date)
    expect(Buffer.isBuffer(hit.thumbnail)).toBe(true)
  })

  it('msgpack (documented recipe) carries Map, Set and BigInt too', async () => {
    const { store } = await kit.make()
    const cache = new Cache({ store, serializer: msgpack })
    onTestFinished(() => cache.close())
    const value = { ...VALUE, counts: new Map([['a', 1]]), seen: new Set(['x']), big: 2n ** 60n }
    await cache.getOrSet('m', async () => value)
    const hit = await cache.getOrSet('m', async () => ({}) as typeof value)
    expect(hit).toEqual(value)
    expect(hit.counts).toBeInstanceOf(Map)
    expect(hit.big).toBe(2n ** 60n)
  })
})
