import type { FastifyRequest } from 'fastify'
import type { Engine } from '../engine/engine.js'
import type { ReadOptions } from '../engine/read-through.js'
import type { FillTicket } from '../engine/ticket.js'
import type { RouteControl } from './control.js'
import type { RouteRefresher } from './refresh.js'
import type { KeyMemos, RouteKeyMemo } from './route-key.js'
import type { CompiledRoute } from './route-options.js'
import { VaryState } from './vary.js'

/** One cached route: its compiled options and what its hooks drive, built once at registration. */
export interface CachedRoute {
  compiled: CompiledRoute
  engine: Engine
  refresher: RouteRefresher
  /** Read-through options of a GET, of a HEAD (runs the handler without filling), of a forced refresh. */
  get: ReadOptions
  head: ReadOptions
  refresh: ReadOptions
  /** The headers responses vary on, as this instance learned them, and the variants per URL. */
  vary: VaryState
  /** The plugin's control of route entries (which injected requests are forced refreshes). */
  control: RouteControl
  /** Keys of recent requests, for as long as the route's key depends on no request header. */
  keys: RouteKeyMemo
}

/** How long a request waits for this process's own load of its key, without a lock to bound it. */
const DEFAULT_FOLLOWER_WAIT_MS = 5_000

export function cachedRoute(
  compiled: CompiledRoute,
  engine: Engine,
  refresher: RouteRefresher,
  control: RouteControl,
  keyMemos: KeyMemos,
): CachedRoute {
  const base = {
    route: compiled.route,
    tags: undefined,
    tagged: compiled.tags !== undefined,
    forceFresh: false,
    noFill: false,
    followerWaitMs: compiled.policy.lock ? compiled.policy.lock.waitMs : DEFAULT_FOLLOWER_WAIT_MS,
    followerOnError: 'retry' as const,
    refresh: (ticket: FillTicket, request: unknown) =>
      refresher.run(request as FastifyRequest, ticket).then(noop),
  }
  return {
    compiled,
    engine,
    refresher,
    get: base,
    head: { ...base, noFill: true },
    refresh: { ...base, forceFresh: true },
    vary: new VaryState(compiled.vary),
    control,
    keys: keyMemos.forRoute(compiled),
  }
}

function noop(): void {}
