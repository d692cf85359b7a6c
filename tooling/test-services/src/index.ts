export { cleanupPrefix, uniquePrefix } from './prefix.js'
export { freePort, type RedisProcess, type StartRedisOptions, startRedisServer } from './redis-process.js'
export {
  type ClusterNode,
  clusterNodes,
  databaseUrl,
  portAnswers,
  redisUrl,
  warnClusterSkipped,
} from './resolve.js'
export { deferred, sleep } from './timing.js'
