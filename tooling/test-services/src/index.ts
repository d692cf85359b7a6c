export {
  type FakeCommandHandler,
  type FakeRespConnection,
  type FakeRespServer,
  startFakeRespServer,
} from './fake-resp-server.js'
export { requestedIoredisMajor } from './ioredis-major.js'
export { loadedIoredisVersion } from './ioredis-version.js'
export { cleanupPrefix, uniquePrefix } from './prefix.js'
export {
  freePort,
  type RedisProcess,
  redisServerBinary,
  type StartRedisOptions,
  startRedisServer,
  threadStates,
} from './redis-process.js'
export {
  type ClusterNode,
  clusterNodes,
  databaseUrl,
  KEYDB_IMAGE,
  POSTGRES_IMAGE,
  portAnswers,
  redisUrl,
  warnClusterSkipped,
} from './resolve.js'
export { type RespVersion, respClient, respCluster, respVersions, serverProtocol } from './resp.js'
export {
  type Address,
  type Failover,
  failOver,
  lockSentinelGroup,
  type SentinelGroup,
  sentinelGroup,
  sentinelMaster,
  waitForSentinelGroup,
  warnSentinelSkipped,
} from './sentinel.js'
export {
  binaryKind,
  clusterServerKind,
  type ServerKind,
  serverKind,
  serverKindAt,
  sharedServerKind,
} from './server-kind.js'
export { deferred, eventually, holdEventLoop, sleep, waitUntil } from './timing.js'
