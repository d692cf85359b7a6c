export type { VersionBackend } from './backend.js'
export { type CacheTagsErrorCode, errors } from './errors.js'
export { useMemberIndex } from './member-index.js'
export { MEMORY_MAX_TAGS } from './memory-backend.js'
export { DEFAULT_TAG_OPTIONS, type ResolvedTagOptions, type TagProviderOptions } from './options.js'
export { type FastifyCacheTagsOptions, fastifyCacheTags, fastifyCacheTags as default } from './plugin.js'
export {
  BUS_TAGS,
  createTagProvider,
  type TagProviderStats,
  TagVersionProvider,
} from './provider.js'
export {
  isValidTag,
  MAX_TAG_LENGTH,
  MAX_TAGS_PER_ENTRY,
  MAX_TAGS_PER_INVALIDATION,
  validateTags,
} from './validate.js'

import './types.js'
