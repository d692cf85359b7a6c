import type { BackgroundTasks } from '@fastkey/support'
import type { Bus } from '../bus/bus.js'
import type { TagProvider } from '../extension/tag-provider.js'
import type { CacheStore } from '../stores/types.js'
import type { Coherence } from './coherence.js'
import type { Signals } from './events.js'
import type { Failures } from './failures.js'
import type { L1Tier } from './l1.js'

/** The shared pieces every engine unit is built from; each unit takes the ones it needs. */
export interface EngineParts {
  store: CacheStore
  l1: L1Tier | undefined
  failures: Failures
  tags: TagProvider | undefined
  bus: Bus
  coherence: Coherence
  signals: Signals
  background: BackgroundTasks
}
