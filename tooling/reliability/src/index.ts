export {
  adminClient,
  buildApp,
  FAST,
  failFastClient,
  keydbEngine,
  namespaceKeys,
  sharedRedisNamespace,
} from './apps.js'
export { SkewedClocks } from './clock.js'
export { clusterUnavailable, startCluster, type ThrowawayCluster } from './cluster.js'
export type { Figures, FigureValues, Observed } from './figures.js'
export { fuzzSetAfterDelete, prng } from './fuzz.js'
export { History } from './history.js'
export {
  burst,
  deferred,
  expectOk,
  httpGet,
  load,
  loadFor,
  type Shot,
  shoot,
  sleep,
  waitUntil,
} from './load.js'
export { metricValue, seriesCount } from './metrics.js'
export { Origin } from './origin.js'
export { testDatabase } from './postgres.js'
export { readResults, type ScenarioResult } from './results.js'
export { type ScenarioContext, scenario } from './scenario.js'
export { warmUp } from './warm-up.js'
