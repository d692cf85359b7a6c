export { detectCapabilities, parseServerInfo, type ServerInfo } from './capabilities.js'
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  type FailFastTimeouts,
  failFastRedisOptions,
  RECONNECT_MAX_DELAY_MS,
} from './defaults.js'
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
