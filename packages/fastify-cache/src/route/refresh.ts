import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, LightMyRequestResponse } from 'fastify'
import type { FillTicket } from '../engine/ticket.js'

/** Marks the request a background refresh injects, so the route hooks hand it the refresh's ticket. */
export const REFRESH_HEADER = 'x-fastkey-refresh'

// Request headers not replayed by a background refresh: conditionals would turn it into a 304.
const NOT_REPLAYED = new Set([
  'if-none-match',
  'if-modified-since',
  'range',
  'content-length',
  'connection',
  REFRESH_HEADER,
])

/**
 * Background refreshes of cached routes (stale-while-revalidate): the stale request is replayed
 * through `inject()`, and the injected request runs the handler with the refresh's fill ticket.
 */
export class RouteRefresher {
  readonly #fastify: FastifyInstance
  readonly #tickets = new Map<string, FillTicket>()

  constructor(fastify: FastifyInstance) {
    this.#fastify = fastify
  }

  /** The ticket of the refresh that injected a request carrying `token`, if it is one of ours. */
  claim(token: string): FillTicket | undefined {
    return this.#tickets.get(token)
  }

  /**
   * Replays `request` (a GET of the same URL and headers) to run the handler for `ticket`; resolves
   * the injected response.
   */
  async run(request: FastifyRequest, ticket: FillTicket): Promise<LightMyRequestResponse> {
    const token = randomBytes(18).toString('base64url')
    this.#tickets.set(token, ticket)
    const headers: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !NOT_REPLAYED.has(name)) headers[name] = value
    }
    headers[REFRESH_HEADER] = token
    try {
      return await this.#fastify.inject({ method: 'GET', url: request.url, headers })
    } finally {
      this.#tickets.delete(token)
    }
  }
}

// Hop-by-hop and per-message headers of an injected response that the outer response computes itself.
const NOT_COPIED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date'])

/** Sends an injected response as this request's own: status, headers and bytes as they were. */
export function replayInjected(reply: FastifyReply, response: LightMyRequestResponse): void {
  reply.code(response.statusCode)
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined && !NOT_COPIED.has(name)) reply.header(name, value)
  }
  reply.send(response.rawPayload)
}
