import { Cache, type CacheStore, MemoryStore } from '@fastkey/fastify-cache'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  createTagProvider,
  isValidTag,
  MAX_TAG_LENGTH,
  MAX_TAGS_PER_ENTRY,
  MAX_TAGS_PER_INVALIDATION,
  validateTags,
} from '../src/index.js'
import { instance, memoryKit } from './helpers.js'

const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return (error as { code?: string }).code
  }
  return undefined
}

describe('tag validation', () => {
  it('accepts the charset up to the length limit and dedupes', () => {
    const longest = 'a'.repeat(MAX_TAG_LENGTH)
    expect(validateTags(['cat:tv', 'product:1', 'a.b_c-d/e', 'cat:tv', longest])).toEqual([
      'cat:tv',
      'product:1',
      'a.b_c-d/e',
      longest,
    ])
    expect(isValidTag('x')).toBe(true)
  })

  it('rejects bad tags with FST_CACHE_TAGS_INVALID_TAG and too many with FST_CACHE_TAGS_TOO_MANY', () => {
    for (const bad of ['', 'has space', 'a'.repeat(MAX_TAG_LENGTH + 1), '{slot}', 'é', 'a\nb', 42, null]) {
      expect(codeOf(() => validateTags([bad]))).toBe('FST_CACHE_TAGS_INVALID_TAG')
    }
    expect(codeOf(() => validateTags('cat:tv'))).toBe('FST_CACHE_TAGS_INVALID_TAG')
    const many = Array.from({ length: MAX_TAGS_PER_ENTRY + 1 }, (_, i) => `t${i}`)
    expect(codeOf(() => validateTags(many))).toBe('FST_CACHE_TAGS_TOO_MANY')
    expect(validateTags(many.slice(1))).toHaveLength(MAX_TAGS_PER_ENTRY)
  })

  it('invalidateTags validates before any write', async () => {
    const { cache } = await instance(new MemoryStore())
    await expect(cache.invalidateTags(['ok', 'not ok'])).rejects.toMatchObject({
      code: 'FST_CACHE_TAGS_INVALID_TAG',
    })
    const many = Array.from({ length: MAX_TAGS_PER_INVALIDATION + 1 }, (_, i) => `t${i}`)
    await expect(cache.invalidateTags(many)).rejects.toMatchObject({ code: 'FST_CACHE_TAGS_TOO_MANY' })
    await expect(cache.invalidateTags(many.slice(1))).resolves.toBeUndefined()
    await expect(cache.tagProvider!.invalidate(['t'], 'medium' as never)).rejects.toMatchObject({
      code: 'FST_CACHE_TAGS_INVALID_OPTION',
    })
  })

  it('service calls with bad tags fail with the code before anything runs', async () => {
    const { cache } = await instance(new MemoryStore())
    const tooMany = Array.from({ length: MAX_TAGS_PER_ENTRY + 1 }, (_, i) => `t${i}`)
    let loaded = 0
    const loader = async () => {
      loaded++
      return 'v'
    }
    await expect(cache.getOrSet('k', loader, { tags: tooMany })).rejects.toMatchObject({
      code: 'FST_CACHE_TAGS_TOO_MANY',
    })
    await expect(cache.set('k', 'v', { tags: ['bad tag'] })).rejects.toMatchObject({
      code: 'FST_CACHE_TAGS_INVALID_TAG',
    })
    expect(() => cache.wrap(loader, { key: () => 'w', tags: ['bad tag'] })).toThrow(
      expect.objectContaining({ code: 'FST_CACHE_TAGS_INVALID_TAG' }),
    )
    expect(loaded).toBe(0)
    expect(await cache.get('k')).toBeUndefined()
    expect(cache.circuitState).toBe('closed')
  })
})

describe('provider options and wiring', () => {
  it('rejects bad options with FST_CACHE_TAGS_INVALID_OPTION', () => {
    const bad: unknown[] = [
      'fast',
      { versionTtlMs: -1 },
      { versionTtlMs: '1s' },
      { clockSkewMs: Number.NaN },
      { maxMemoTags: 0 },
      { tagTtlMs: 1.5 },
      { commandTimeoutMs: 0 },
      { memberIndex: 'yes' },
      { versionTTL: 5 },
    ]
    for (const options of bad)
      expect(codeOf(() => createTagProvider(options as never))).toBe('FST_CACHE_TAGS_INVALID_OPTION')
    expect(createTagProvider({ versionTtlMs: 0, clockSkewMs: 0 }).options.versionTtlMs).toBe(0)
  })

  it('names the option, the value with its type and the limit (the message is the contract here)', () => {
    const messageOf = (options: unknown) => {
      try {
        createTagProvider(options as never)
      } catch (error) {
        return (error as Error).message
      }
      return ''
    }
    expect(messageOf({ tagTtlMs: 1.5 })).toMatch(
      /tagTtlMs: .*whole number of ms from 1 to 2147483647.*1\.5 \(number\)/,
    )
    expect(messageOf({ versionTtlMs: '1s' })).toMatch(/versionTtlMs: .*from 0 to .*"1s" \(string\)/)
    expect(messageOf({ maxMemoTags: 0 })).toMatch(/maxMemoTags: expected an integer >= 1, got 0 \(number\)/)
    expect(messageOf({ versionTTL: 5 })).toMatch(/versionTTL: unknown option \(known: .*versionTtlMs/)
  })

  it('one provider per engine; a store it cannot use is refused; no use before attach', async () => {
    const tags = createTagProvider()
    await expect(tags.begin(['t'])).rejects.toMatchObject({ code: 'FST_CACHE_TAGS_NOT_ATTACHED' })
    const first = new Cache({ tags })
    onTestFinished(() => first.close())
    expect(() => new Cache({ tags })).toThrow(
      expect.objectContaining({ code: 'FST_CACHE_TAGS_ALREADY_ATTACHED' }),
    )
    // A working store whose data lives where the provider cannot keep versions.
    class ForeignStore extends MemoryStore {
      override readonly kind = 'sqlite'
      override readonly location = { kind: 'opaque' } as const
    }
    const foreign: CacheStore = new ForeignStore()
    expect(() => new Cache({ store: foreign, tags: createTagProvider() })).toThrow(
      expect.objectContaining({ code: 'FST_CACHE_TAGS_UNSUPPORTED_STORE' }),
    )
  })

  it('engines sharing one MemoryStore share its versions', async () => {
    const { store } = await memoryKit.make()
    const a = await instance(store)
    const b = await instance(memoryKit.twin(store))
    await a.cache.set('k', 'v', { tags: ['t'] })
    await b.cache.invalidateTags(['t'])
    expect(await a.cache.get('k')).toBeUndefined()
    expect(a.tags.backendKind).toBe('memory')
  })
})
