import type { FastifyInstance } from 'fastify'
import type { Figures } from './figures.js'
import { sleep } from './load.js'

/**
 * A slow in-process origin: counts its calls into the scenario's figures, answers after `delayMs`, and
 * serves a `version` the scenario bumps to tell old data from new.
 */
export class Origin {
  calls = 0
  version = 1
  delayMs: number
  /** When set, every call throws it (the database is down). */
  failure: Error | undefined
  readonly #fig: Figures | undefined

  constructor(fig?: Figures, delayMs = 20) {
    this.#fig = fig
    this.delayMs = delayMs
  }

  async fetch(id: string): Promise<{ id: string; version: number }> {
    this.calls++
    this.#fig?.origin()
    const version = this.version
    await sleep(this.delayMs)
    if (this.failure) throw this.failure
    return { id, version }
  }

  /** `GET /items/:id` cached with the route options given. */
  route(app: FastifyInstance, cache: Record<string, unknown> = {}): void {
    app.get('/items/:id', { config: { cache } }, (req) => this.fetch((req.params as { id: string }).id))
  }
}
