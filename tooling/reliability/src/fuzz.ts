import type { Cache } from '@fastkey/fastify-cache'
import { History } from './history.js'

/** Deterministic PRNG (mulberry32): a failing seed replays the same interleaving. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface FuzzOptions {
  /** Instances sharing one store (KeyDB namespace or MemoryStore). */
  engines: readonly Cache[]
  interleavings: number
  seed: number
  /** Operations scheduled per interleaving. */
  steps: number
  /** Lets the system make progress between two steps (a turn of the loop, or a few ms on KeyDB). */
  settle: () => Promise<void>
  keyPrefix: string
}

export interface FuzzStats {
  interleavings: number
  fills: number
  loads: number
  reads: number
  hits: number
  deletes: number
  /** Fills the store refused because a delete happened during their load: the fence at work. */
  refused: number
  violations: string[]
}

/**
 * Random interleavings of loader start/finish, deletes and reads of one key per interleaving, over
 * several engines on one store. Fills are `getOrSet` calls whose loader reads the data version when it
 * starts and is then held until a later step releases it; deletes bump the version, then call
 * `delete()`; reads are `get()`. The history checker then looks for a read that started after a delete
 * resolved and returned a value loaded before that delete's write.
 */
export async function fuzzSetAfterDelete(options: FuzzOptions): Promise<FuzzStats> {
  const random = prng(options.seed)
  let tick = 0
  const history = new History(() => ++tick)
  const stats: FuzzStats = {
    interleavings: 0,
    fills: 0,
    loads: 0,
    reads: 0,
    hits: 0,
    deletes: 0,
    refused: 0,
    violations: [],
  }
  const offs = options.engines.map((engine) =>
    engine.events.on('set', (e) => {
      if (!e.written) stats.refused++
    }),
  )
  try {
    for (let n = 0; n < options.interleavings; n++) {
      await interleaving(`${options.keyPrefix}${n}`, options, random, history, stats)
      stats.interleavings++
    }
  } finally {
    for (const off of offs) off()
  }
  stats.violations = history.violations()
  return stats
}

async function interleaving(
  key: string,
  options: FuzzOptions,
  random: () => number,
  history: History,
  stats: FuzzStats,
): Promise<void> {
  let version = 0
  const gates: Array<() => void> = []
  const ops: Array<Promise<unknown>> = []
  const engines = options.engines
  for (let step = 0; step < options.steps; step++) {
    const r = random()
    const index = Math.floor(random() * engines.length)
    const engine = engines[index]!
    if (r < 0.3) {
      stats.fills++
      ops.push(
        engine.getOrSet(key, async () => {
          stats.loads++
          const seen = version
          await new Promise<void>((release) => gates.push(release))
          return seen
        }),
      )
    } else if (r < 0.6) {
      stats.reads++
      ops.push(
        history.read(key, `engine ${index} get()`, async () => {
          const value = await engine.get<number>(key)
          if (value !== undefined) stats.hits++
          return value
        }),
      )
    } else if (r < 0.75) {
      stats.deletes++
      ops.push(
        history.invalidate(
          key,
          () => ++version,
          () => engine.delete(key),
        ),
      )
    } else if (gates.length > 0) {
      gates.splice(Math.floor(random() * gates.length), 1)[0]!()
    }
    await options.settle()
  }
  // Release every held loader (followers and lock waiters may start theirs late) until all settle.
  let done = false
  const all = Promise.all(ops).then(() => {
    done = true
  })
  for (let round = 0; !done; round++) {
    if (round > 5_000) throw new Error(`interleaving ${key} did not settle`)
    for (const release of gates.splice(0)) release()
    await options.settle()
  }
  await all
}
