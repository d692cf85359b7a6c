import { errors } from './errors.js'

/** Longest tag, characters. */
export const MAX_TAG_LENGTH = 128
/** Most tags one entry may carry: each is compared on every read of the entry. */
export const MAX_TAGS_PER_ENTRY = 64
/** Most tags one `invalidateTags` call may name: each is one write, all go in one bus message. */
export const MAX_TAGS_PER_INVALIDATION = 1_000

// No spaces (the recorded form separates tokens with them), no braces (the hash tag of the version
// key is `{<tag>}`), nothing a CDN surrogate-key header would have to escape.
const TAG_PATTERN = /^[A-Za-z0-9:_.\-/]+$/

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** Whether `tag` is a valid tag (1-128 characters of `[A-Za-z0-9:_.\-/]`). */
export function isValidTag(tag: unknown): tag is string {
  return typeof tag === 'string' && tag.length <= MAX_TAG_LENGTH && TAG_PATTERN.test(tag)
}

/**
 * Checks a list of tags and returns it without duplicates (first occurrence order). Throws
 * `FST_CACHE_TAGS_INVALID_TAG` for a bad tag (or when `tags` is not an array) and
 * `FST_CACHE_TAGS_TOO_MANY` when there are more than `max` distinct tags.
 */
export function validateTags(
  tags: unknown,
  max: number = MAX_TAGS_PER_ENTRY,
  scope = 'per entry',
): readonly string[] {
  if (!Array.isArray(tags))
    throw new errors.FST_CACHE_TAGS_INVALID_TAG(`list ${describe(tags)} (not an array)`, MAX_TAG_LENGTH)
  for (const tag of tags) {
    if (!isValidTag(tag)) throw new errors.FST_CACHE_TAGS_INVALID_TAG(describe(tag), MAX_TAG_LENGTH)
  }
  const unique = tags.length > 1 ? [...new Set(tags as string[])] : (tags as string[])
  if (unique.length > max) throw new errors.FST_CACHE_TAGS_TOO_MANY(unique.length, max, scope)
  return unique
}
