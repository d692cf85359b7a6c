/**
 * Problems the scenarios exposed in the packages and that are still open. The ones fixed so far
 * (joining a load after an invalidation, L1 set after a heard eviction, WRONGTYPE failing a batch,
 * x-forwarded-proto not keyed, an evicted generation losing the delete fence, OOM opening the breaker,
 * followers retrying a failing origin, boot taking the whole 2 s) have regression tests in test/.
 */
export interface Finding {
  title: string
  where: string
  expected: string
  observed: string
}

export const FINDINGS: readonly Finding[] = [
  {
    title: 'The cluster pub/sub connection sends commands the server rejects',
    where: '@fastkey/fastify-keydb `subscriber()` in cluster mode (ioredis ClusterSubscriber)',
    expected: 'no command KeyDB rejects (`disableClientInfo` is the plugin default).',
    observed:
      "`errorstat_ERR:count=2` on the master the pub/sub connection picks, right after `subscriber()` and nowhere else; most likely CLIENT SETINFO, since ioredis builds that connection from a few options only, not `redisOptions`. Harmless, but it bumps KeyDB's error counters.",
  },
]

/** Findings of these scenarios that were fixed in the packages, each with a regression test. */
export const FIXED: readonly string[] = [
  'A read starting after `delete()`/`invalidateTags()` could join a load that started before it (in-process single-flight): loads in flight are now forgotten on every invalidation, local or heard on the bus.',
  "An instance's L1 could keep a value whose eviction it heard while its own write was in flight: the write path now checks for evictions heard meanwhile, as the read path did.",
  'A wrong-typed value at one entry key (WRONGTYPE) failed every read batched with it and never healed: the read script now treats it as a miss for that key alone, and the next fill overwrites it.',
  '`x-forwarded-proto` (honoured under `trustProxy`) was not part of the route key: the protocol is now keyed, like the host.',
  'The delete fence was lost if KeyDB evicted the generation key during a load: a generation is now created when a load starts, so a missing one makes the fill fail safe (refused).',
  'Out of memory: refused writes opened the breaker, which then skipped reads that would succeed: OOM and READONLY replies no longer count as breaker failures.',
  'During an origin outage, concurrent requests for one key each tried the origin: followers of a leader whose origin call failed now serve their stale-if-error copy.',
  'Boot without KeyDB took the whole 2 s budget with the default `connectTimeoutMs` (2000): the default is now 1500.',
]
