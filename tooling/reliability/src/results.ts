import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FigureValues } from './figures.js'

/** Where each scenario writes its figures (git-ignored); the report is built from these files. */
export const RESULTS_DIR = fileURLToPath(new URL('../.results', import.meta.url))

export type Area = 'faults' | 'stampede' | 'races' | 'cluster' | 'server' | 'values' | 'security'

export interface ScenarioResult {
  id: string
  area: Area
  title: string
  /** What the scenario does, in one sentence. */
  did: string
  /** Its pass criterion, as asserted. */
  criterion: string
  status: 'passed' | 'failed' | 'skipped'
  /** Why it was skipped, or the first line of the failure. */
  reason?: string
  figures: FigureValues
  /** Largest event-loop delay seen during the scenario, ms (monitorEventLoopDelay, 10 ms resolution). */
  eventLoopDelayMaxMs: number
  /** Largest stall during which this process used the CPU (its own code or GC), ms: asserted < 100. */
  eventLoopBlockedMaxMs: number
  /** Longest garbage-collection pause during the scenario, ms. */
  gcPauseMaxMs: number
  durationMs: number
  details: string[]
  finishedAt: string
}

export function writeResult(result: ScenarioResult): void {
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(join(RESULTS_DIR, `${result.id}.json`), `${JSON.stringify(result, null, 2)}\n`)
}

export function readResults(dir = RESULTS_DIR): ScenarioResult[] {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'))
  } catch {
    return []
  }
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioResult)
}

export function clearResults(dir = RESULTS_DIR): void {
  rmSync(dir, { recursive: true, force: true })
}
