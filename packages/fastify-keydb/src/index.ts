export { parseServerInfo, type ServerInfo } from '@fastkey/support'
export { detectCapabilities } from './capabilities.js'
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_REPLY_BYTES,
  type FailFastRedisOptions,
  type FailFastTimeouts,
  failFastRedisOptions,
  RECONNECT_MAX_DELAY_MS,
} from './defaults.js'
export { type ParsedUrl, parseKeydbUrl } from './endpoint.js'
export { errors } from './errors.js'
export { default, fastifyKeydb } from './plugin.js'
export type {
  FastifyKeydb,
  FastifyKeydbOptions,
  KeydbCapabilities,
  KeydbClient,
  KeydbClusterOptions,
  KeydbCommonOptions,
  KeydbExtensions,
  KeydbHealth,
  KeydbHealthOptions,
  KeydbInjectedClientOptions,
  KeydbNamespaces,
  KeydbServer,
  KeydbStandaloneOptions,
} from './types.js'
