/**
 * `@fastkey/support`: the building blocks every fastkey package shares (deadlines, option checks,
 * background tasks, Lua script registration, server detection), written once, at the bottom of the
 * dependency chain. No dependencies, not even ioredis (clients are typed by shape).
 */
export { BackgroundTasks } from './background.js'
export {
  DeadlineError,
  errorMessage,
  setPollAwareTimeout,
  withDeadline,
  withNamedDeadline,
} from './deadline.js'
export { defineScripts, type ScriptHost, type ScriptSource } from './scripts.js'
export {
  type InfoClient,
  parseReplicationInfo,
  parseServerInfo,
  type ReplicationInfo,
  readServerInfo,
  readTopology,
  type ServerInfo,
  type ServerKind,
  type Topology,
  topologyOf,
} from './server-info.js'
export {
  booleanProblem,
  type DurationRule,
  describeValue,
  durationProblem,
  integerProblem,
  isPlainObject,
  MAX_TIMER_MS,
  unknownKeyProblem,
} from './values.js'
