import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** How a test reaches the app: `app.inject()` or real HTTP over a loopback socket. */
export type Transport = 'inject' | 'socket'
export const TRANSPORTS: Transport[] = ['inject', 'socket']

export interface RawResponse {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  /** The bytes on the wire, not decoded (a gzip body stays gzip). */
  rawPayload: Buffer
}

export interface RequestSpec {
  url: string
  method?: string
  headers?: Record<string, string>
}

/** Sends one request by `transport`; a socket transport listens on a loopback port first (once). */
export async function send(
  app: FastifyInstance,
  transport: Transport,
  spec: RequestSpec,
): Promise<RawResponse> {
  if (transport === 'inject') {
    const r = await app.inject({
      url: spec.url,
      method: (spec.method ?? 'GET') as 'GET',
      headers: spec.headers ?? {},
    })
    return {
      statusCode: r.statusCode,
      headers: r.headers as RawResponse['headers'],
      rawPayload: r.rawPayload,
    }
  }
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: spec.url,
        method: spec.method ?? 'GET',
        headers: spec.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: res.headers,
            rawPayload: Buffer.concat(chunks),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}
