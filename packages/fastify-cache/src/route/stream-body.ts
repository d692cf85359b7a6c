import { PassThrough, type Readable } from 'node:stream'

/** Whether a payload is a Node stream (what @fastify/compress sends for large bodies). */
export function isStream(payload: unknown): payload is Readable {
  return (
    typeof (payload as Readable | null)?.pipe === 'function' && typeof (payload as Readable).on === 'function'
  )
}

/**
 * Reads a stream into one Buffer, at most `limit` bytes. Past the limit (or on a stream error) it
 * hands back a stream that replays what was read and then the rest, so the client still gets every
 * byte: `{ stream }` means "not storable, send this".
 */
export function collect(stream: Readable, limit: number): Promise<{ body: Buffer } | { stream: Readable }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const giveUp = () => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      const replay = new PassThrough()
      for (const chunk of chunks) replay.write(chunk)
      stream.pipe(replay)
      stream.resume()
      resolve({ stream: replay })
    }
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += buffer.length
      chunks.push(buffer)
      if (size > limit) {
        stream.pause()
        giveUp()
      }
    }
    const onEnd = () => resolve({ body: Buffer.concat(chunks, size) })
    const onError = (error: Error) => {
      const failed = new PassThrough()
      failed.destroy(error)
      resolve({ stream: failed })
    }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('error', onError)
  })
}
