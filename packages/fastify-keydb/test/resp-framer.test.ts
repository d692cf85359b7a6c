import { execFileSync } from 'node:child_process'
import net from 'node:net'
import { describe, expect, onTestFinished, test } from 'vitest'
import { RespFramer } from '../src/resp-framer.js'
import { throwawayServer } from './helpers.js'

const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`

/** One reply of every RESP2 and RESP3 type, nested ones and an attribute included. */
const REPLIES = [
  '+OK\r\n',
  '-ERR wrong\r\n',
  ':42\r\n',
  bulk('hello'),
  '$0\r\n\r\n',
  '$-1\r\n',
  '*-1\r\n',
  '*0\r\n',
  `*2\r\n${bulk('a')}*2\r\n:1\r\n${bulk('b\r\nc')}`,
  '_\r\n',
  '#t\r\n',
  ',3.14\r\n',
  '(3492890328409238509324850943850943825024385\r\n',
  '=15\r\ntxt:Some string\r\n',
  '!21\r\nSYNTAX invalid syntax\r\n',
  `%2\r\n${bulk('k1')}:1\r\n${bulk('k2')}*1\r\n_\r\n`,
  `~2\r\n${bulk('x')}${bulk('y')}`,
  `>3\r\n${bulk('message')}${bulk('ch')}${bulk('payload')}`,
  `|1\r\n${bulk('ttl')}:3600\r\n*2\r\n:1\r\n:2\r\n`,
  `*2\r\n|1\r\n+key\r\n+value\r\n:1\r\n:2\r\n`,
  '%0\r\n',
]
const STREAM = Buffer.from(REPLIES.join(''))

/** Redis 7 refuses DEBUG unless enabled; KeyDB 6.3 and Redis 6.2 allow it and do not know the flag. */
function debugCommandArgs(): string[] {
  const version = execFileSync(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--version']).toString()
  const major = Number(/v=(\d+)/.exec(version)?.[1])
  return !/KeyDB/i.test(version) && major >= 7 ? ['--enable-debug-command', 'yes'] : []
}

describe('RespFramer', () => {
  test('counts every reply of every type, however the stream is cut', () => {
    for (let cut = 1; cut <= 7; cut++) {
      const framer = new RespFramer(1024)
      for (let i = 0; i < STREAM.length; i += cut)
        expect(framer.push(STREAM.subarray(i, i + cut))).toBeUndefined()
      expect(framer.replies).toBe(REPLIES.length)
      expect(framer.lost).toBe(false)
    }
  })

  test('a string announced over the limit trips at its header', () => {
    const framer = new RespFramer(1_000)
    expect(framer.push(Buffer.from('+OK\r\n$1001\r\n'))).toMatch(/1001/)
  })

  test('a length of more than 20 digits trips', () => {
    expect(new RespFramer(1_000).push(Buffer.from(`$${'9'.repeat(25)}`))).toBeDefined()
  })

  test('a reply that grows past the limit trips, however small its parts', () => {
    const framer = new RespFramer(10_000)
    expect(framer.push(Buffer.from('*1000000\r\n'))).toBeUndefined()
    let problem: string | undefined
    let sent = 0
    while (problem === undefined && sent < 20_000) {
      problem = framer.push(Buffer.from(bulk('x'.repeat(90))))
      sent += 97
    }
    expect(problem).toBeDefined()
    expect(sent).toBeGreaterThan(10_000 - 100)
  })

  test('completed replies do not add up: only the one being received counts', () => {
    const framer = new RespFramer(1_000)
    for (let i = 0; i < 100; i++) expect(framer.push(Buffer.from(bulk('y'.repeat(500))))).toBeUndefined()
    expect(framer.replies).toBe(100)
  })

  test.each(['$abc\r\n', '$-5\r\n', '*1-\r\n', '$\r\n'])(
    'a malformed length (%j) is left to the parser',
    (header) => {
      const framer = new RespFramer(10)
      expect(framer.push(Buffer.from(header))).toBeUndefined()
      expect(framer.lost).toBe(true)
    },
  )

  test('a stream it cannot follow is left to the parser', () => {
    const framer = new RespFramer(10)
    expect(framer.push(Buffer.from('?what\r\n'))).toBeUndefined()
    expect(framer.lost).toBe(true)
    expect(framer.push(Buffer.alloc(100))).toBeUndefined()
  })

  test('follows what a real server sends, RESP2 and RESP3 (DEBUG PROTOCOL types, pub/sub pushes)', async () => {
    const server = await throwawayServer(debugCommandArgs())
    const socket = net.connect(server.port, '127.0.0.1')
    onTestFinished(() => void socket.destroy())
    const framer = new RespFramer(1024 * 1024)
    socket.on('data', (chunk: Buffer) => {
      if (framer.push(chunk) !== undefined) throw new Error('tripped')
    })
    const command = (...args: string[]) => `*${args.length}\r\n${args.map(bulk).join('')}`
    const types = [
      'string',
      'integer',
      'double',
      'bignum',
      'null',
      'array',
      'set',
      'map',
      'attrib',
      'true',
      'false',
      'verbatim',
    ]
    const commands = [
      command('SET', 'k', 'v'.repeat(200_000)),
      command('GET', 'k'),
      command('MGET', 'k', 'missing', 'k'),
      command('HELLO', '3'),
      ...types.map((t) => command('DEBUG', 'PROTOCOL', t)),
      command('HSET', 'h', 'a', '1', 'b', '2'),
      command('HGETALL', 'h'),
      command('CLIENT', 'TRACKING', 'on'),
      command('GET', 'h'),
      command('SUBSCRIBE', 'c1', 'c2'),
    ]
    socket.write(commands.join(''))
    // SUBSCRIBE of 2 channels is answered by 2 pushes.
    const expected = commands.length + 1
    const deadline = Date.now() + 5_000
    while (framer.replies < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(framer.replies).toBe(expected)
    expect(framer.lost).toBe(false)
  })
})
