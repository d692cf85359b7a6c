import { describe, expect, it, onTestFinished } from 'vitest'
import { Cache, cached } from '../src/index.js'

class ProductService {
  calls = 0
  constructor(readonly cache: Cache) {}

  @cached({ ttlMs: 60_000, key: (id: number) => `product:${id}` })
  async byId(id: number): Promise<{ id: number; name: string }> {
    this.calls++
    return { id, name: `product ${id}` }
  }

  @cached({ ttlMs: 60_000 })
  async search(term: string, limit: number): Promise<string[]> {
    this.calls++
    return Array.from({ length: limit }, (_, i) => `${term}-${i}`)
  }
}

describe('@cached (standard decorators)', () => {
  it('caches a method through the instance cache, keyed by its key function', async () => {
    const cache = new Cache()
    onTestFinished(() => cache.close())
    const service = new ProductService(cache)
    expect(await service.byId(1)).toEqual({ id: 1, name: 'product 1' })
    expect(await service.byId(1)).toEqual({ id: 1, name: 'product 1' })
    expect(await service.byId(2)).toEqual({ id: 2, name: 'product 2' })
    expect(service.calls).toBe(2)
    expect(await cache.get('product:1')).toEqual({ id: 1, name: 'product 1' })
  })

  it('defaults the key to class, method and arguments', async () => {
    const cache = new Cache()
    onTestFinished(() => cache.close())
    const service = new ProductService(cache)
    await service.search('tv', 2)
    await service.search('tv', 2)
    await service.search('tv', 3)
    expect(service.calls).toBe(2)
    expect(await cache.get('ProductService.search:["tv",2]')).toEqual(['tv-0', 'tv-1'])
  })

  it('takes an explicit engine and fails clearly without one', async () => {
    const shared = new Cache()
    onTestFinished(() => shared.close())
    class Orphan {
      n = 0
      @cached({ cache: shared, key: () => 'orphan' })
      async value() {
        return ++this.n
      }
      @cached()
      async noEngine() {
        return 1
      }
    }
    const o = new Orphan()
    expect(await o.value()).toBe(1)
    expect(await o.value()).toBe(1)
    await expect(o.noEngine()).rejects.toThrow(/no cache engine/)
  })
})
