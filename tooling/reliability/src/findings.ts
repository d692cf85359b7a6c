/**
 * Problems the scenarios exposed in the packages and that are still open. The ones fixed so far
 * (joining a load after an invalidation, L1 set after a heard eviction, WRONGTYPE failing a batch,
 * x-forwarded-proto not keyed, an evicted generation losing the delete fence, OOM opening the breaker,
 * followers retrying a failing origin, boot taking the whole 2 s, the Sentinel failover, frozen-sentinel
 * and close findings) have regression tests in test/.
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
  'Through Sentinel the client stayed on the demoted master for ~10 s after a failover (11 s to the first HIT on the new master): fastify-keydb now sets `failoverDetector: true`, so it follows `+switch-master` at once (scenario sentinel-failover).',
  'A frozen sentinel first in the list held master resolution past `connectTimeoutMs` although the next sentinel was healthy (the app booted with the client still connecting, requests uncached): `sentinelCommandTimeout` is now the command deadline (scenario sentinel-frozen).',
  "With the failover detector on, `app.close()` left its connections to the sentinels open (QUIT ends the client without telling ioredis' Sentinel connector), keeping the process alive: close now releases them (fastify-keydb test/sentinel.test.ts).",
  'Bad connection configuration: `redis://` printed a stack trace in the demo, `/abc` crashed on an unhandled `SELECT NaN`, `/99` and port 0 booted on another database or server: fastify-keydb checks the URL (host, port, database index) at registration, a refused index fails registration at boot and drops the socket after boot, and the demo prints one line.',
  'A server that announced a 2 GB reply and trickled bytes grew the client without bound (+82 MB RSS in 5 s): fastify-keydb drops a connection whose reply passes `maxReplyBytes` (64 MiB by default) on every connection it creates.',
  "The demo's `/health` said `ok` while its products table was gone (every cold read failed): it now reads the tables the routes use, with a deadline, and answers 503 `down`.",
  'A tag version evicted, expired or deleted while a route fill was in flight was recreated by its seal and read as "never invalidated": the old list was stored as fresh (5/5 trials with a DEL, stale HITs under allkeys-random and allkeys-lru). A version recreated during the load now counts as invalidated unless the namespace\'s invalidation mark (written by every invalidation) proves none happened since the load began (scenarios tag-version-deleted-*, tag-version-allkeys-*).',
  "cache-tags' fixed 100 ms clockSkewMs refused most route fills under steady invalidations (10/s: 1.96-2.74 origin calls per list page and invalidation): the default now follows the detected topology, 0 on masters without replicas (scenario tag-clock-skew-hit-ratio-*).",
  'The demo container ran `pnpm start`, which does not forward SIGTERM (the server was left running, no graceful shutdown): it runs node directly.',
  "On the instance that called `delete()`, a read already in flight wrote the old entry back into its L1 after the delete (served for l1.ttlMs, 3/3 trials): the instance's own delete/clear now moves its L1 epoch before and after the store call (scenario own-l1-read-during-delete-*).",
  'A half-open bus subscription (TCP open, nothing delivered) left the instance trusting its L1 forever (old values after every write): the bus now proves itself with heartbeats every 250 ms; after 700 ms of silence L1 is off and the subscriber reconnected, within 950 ms (scenario bus-half-open-*).',
  'A KeyDB answering every command in 150 ms never tripped the breaker and a request could wait on several deadlines (497 ms with a 200 ms deadline): slow replies count against the circuit (breaker.slowCallMs) and a request spends one deadline in total (scenario keydb-gray-failure).',
  'Every miss left a generation key for 1 h, even for responses never stored (+10k keys for 10k distinct queries): a generation now lives only while its fill runs (scenarios keys-for-unstored-responses-*).',
  '`app.close()` waited forever on a background refresh whose origin hung: close waits closeTimeoutMs (2 s), then abandons the fill safely (scenario close-with-stuck-refresh).',
  'With KeyDB down a committed write answered 500 (its invalidation failed) and was lost: invalidations are now held (bounded, counted), replayed before the instance uses KeyDB again, and the other instances wait for their peers before trusting L1; no old entry is served even when KeyDB restarts from its append-only file (scenario writes-while-keydb-down).',
  "On a cluster with one master frozen (the bus still working), a delete held for replay was invisible to the other instance, which saw no gap and served the old value from its L1 (1-12 stale reads per run): a holding instance's heartbeats now say so, and its peers leave the store and L1 alone until it has replayed (scenario cluster-master-frozen-during-writes).",
  'The reads of one event-loop turn went out as one script whatever their number: 100 concurrent hits on 200 KB entries made a 20 MB reply, past an 8 MiB maxReplyBytes, and fastify-keydb dropped the connection (0 of 100 HITs): a read asks for at most 32 keys per script (scenario batched-read-reply-limit).',
  "A burst of requests for one cold key that kept the process busy past the store deadline made duplicate origin calls (the bench: 2 on one process, up to 6 on three; this scenario: 1,821 store calls reported slow or timed out, the circuit opened on a healthy KeyDB): replies waited on our own event loop, which counted as a slow KeyDB and spent the requests' budgets, so fills skipped the lock; and a fill stored between a lookup and its acquire was loaded again. Only the idle share of a busy call counts now, and a cold miss locks only an empty key (scenario stampede-burst-outlasting-origin).",
  "A lock acquire answered past its deadline (commandTimeoutMs or the request's store budget) kept its token (the lock was released) but not the generation the server created: 1-4 generation keys per 2,000 unstored responses stayed for generationTtlMs (1 h), seen on the cluster under Node 22 and 24 in CI (a first fix covered only the budget cut): the generation an acquire creates is now its token, so the release removes it without the lost reply (scenario keys-for-unstored-responses-cluster; test edges.test.ts, 5 of 5 keys left before).",
  "After a KeyDB restart an instance's store connection can come back before its bus subscriber: it then read the entries the restarted server restored while a peer still held the invalidations for them (the demo's outage test served the old price in 3 of 6 runs under load; this scenario failed 2 of 2 before): an instance whose store reconnected during a gap in its subscription leaves the store alone until the bus is back and its peers have spoken, and a read answered once the instance is held is dropped (scenario writes-while-keydb-down-bus-late; test store-back-first.test.ts, 3 of 4 runs failed before).",
  "On a cluster a confirmed invalidation resolved once its own message came back, but masters relay PUBLISH to each other's subscribers later: an instance subscribed on another master still read the deleted entry after the delete was held (16 of 60 trials in fastify-cache test/cluster-delivery.test.ts; 1 stale read in cluster-master-frozen-during-writes in CI): confirmed messages are now published on every master and the bus drops the repeats.",
  "A peer's messages can arrive out of order (on a cluster a plain heartbeat published on one master reaches the instances on the others by relay, 38-44 ms late in about 1 of 100 on an idle host, while a confirmed holding heartbeat goes to every master directly): an older heartbeat arriving after the holding one released the holding peer, so the other instance served the old value while the delete was held (fastify-cache test/cluster-delivery.test.ts failed in CI, 1 of 30 keys, and in 4 of 4 runs of 150 keys under a CPU hog; this scenario: 28 stale reads in 10 trials before). Each peer's state now follows only its newest message (sequence numbers), an older one changes nothing (scenario bus-heartbeat-after-holding; none stale in 600 keys under a CPU hog after).",
  'With the replication link cut, a delete() resolved (its own echo came back) while an instance reading the replica served the old entry (5/5 trials; on KeyDB active replication up to 602 ms): invalidations now WAIT for the attached replicas (replicaAckMs), and an unconfirmed one is held and replayed (scenario replication-link-cut).',
  "A process whose event loop was held (a burst's long turns, or a handler's 1.2 s of synchronous work) called a healthy KeyDB failed: a deadline's timer runs before the poll phase that reads the socket, so replies that had arrived in time were still unread (in CI under Node 24, 3 timeouts opened the circuit in the burst scenario; 3 failures in 24 runs of it under a CPU hog, none in 30 after), and an instance alone heard nothing while it could not speak itself, so its bus went 'silent' and L1 was dropped (3 of 3 holds). The cache's deadlines and fastify-keydb's per-command deadline (ioredis' `commandTimeout`, which alone still failed 15 store calls per run of the scenario) now decide after that poll phase, and the bus calls a subscription deaf only when a message it published goes unanswered (scenario held-event-loop-alone).",
]
