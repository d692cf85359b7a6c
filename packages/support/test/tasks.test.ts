import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import {
  BackgroundTasks,
  DeadlineError,
  defineScripts,
  parseServerInfo,
  readServerInfo,
  withDeadline,
  withNamedDeadline,
} from '../src/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('deadlines', () => {
  it('settles like the promise when it is in time, else rejects with the deadline error', async () => {
    await expect(withDeadline(Promise.resolve(1), 50, () => new Error('late'))).resolves.toBe(1)
    await expect(withDeadline(Promise.reject(new Error('own')), 50, () => new Error('late'))).rejects.toThrow(
      'own',
    )
    await expect(withDeadline(sleep(100), 10, () => new Error('late'))).rejects.toThrow('late')
    const error = await withNamedDeadline(sleep(100), 10, 'PING').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeadlineError)
    expect(error).toMatchObject({ code: 'ETIMEDOUT', message: 'PING got no reply within 10 ms' })
  })

  it('a promise that rejects after its deadline is not an unhandled rejection', async () => {
    const unhandled: unknown[] = []
    const listener = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', listener)
    try {
      const late = sleep(20).then(() => Promise.reject(new Error('after the deadline')))
      await expect(withDeadline(late, 5, () => new Error('deadline'))).rejects.toThrow('deadline')
      await sleep(40)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', listener)
    }
  })

  it('a reply that arrived in time but waited behind a held event loop is not a timeout', async () => {
    // A real socket to another process (as KeyDB is): its reply is in the kernel's buffer while this
    // loop is held, and the deadline's timer is due before the poll phase that reads it.
    const echo = spawn(process.execPath, [
      '-e',
      "require('net').createServer((s) => s.pipe(s)).listen(0, '127.0.0.1', function () { console.log(this.address().port) })",
    ])
    const [port] = await once(echo.stdout, 'data')
    const client = connect(Number(String(port)), '127.0.0.1')
    await once(client, 'connect')
    try {
      for (let round = 0; round < 5; round++) {
        const reply = once(client, 'data').then(([data]) => String(data))
        client.write(`ping ${round}`)
        const answered = withDeadline(reply, 20, () => new Error('late'))
        const until = performance.now() + 100
        while (performance.now() < until) {
          // Holds the loop past the deadline, as a burst's long turn does; the echo comes back meanwhile.
        }
        await expect(answered).resolves.toBe(`ping ${round}`)
      }
    } finally {
      client.destroy()
      echo.kill()
    }
  })
})

describe('background tasks', () => {
  it('drain waits for every task, those started meanwhile too; drainWithin gives up at its deadline', async () => {
    const tasks = new BackgroundTasks()
    const done: string[] = []
    tasks.track(
      sleep(20).then(() => {
        done.push('a')
        tasks.track(sleep(20).then(() => done.push('b')))
      }),
    )
    tasks.track(Promise.reject(new Error('a failed task is forgotten too')).catch(() => done.push('c')))
    await tasks.drain()
    expect(done.sort()).toEqual(['a', 'b', 'c'])
    expect(tasks.size).toBe(0)
    tasks.track(sleep(200))
    expect(await tasks.drainWithin(20)).toBe(false)
    expect(await tasks.drainWithin(500)).toBe(true)
  })
})

describe('scripts and server detection', () => {
  it('defineScripts registers each name once and leaves existing ones alone', () => {
    const defined: Array<[string, unknown]> = []
    const client = {
      existing: () => {},
      defineCommand(name: string, definition: unknown) {
        defined.push([name, definition])
        ;(this as unknown as Record<string, unknown>)[name] = () => {}
      },
    }
    defineScripts(client, {
      existing: 'return 1',
      fkOne: 'return 2',
      fkTwo: { lua: 'return 3', numberOfKeys: 1 },
    })
    defineScripts(client, { fkOne: 'return 2' })
    expect(defined).toEqual([
      ['fkOne', { lua: 'return 2' }],
      ['fkTwo', { lua: 'return 3', numberOfKeys: 1 }],
    ])
  })

  it('tells KeyDB from Redis by what only KeyDB prints, never by redis_version', async () => {
    expect(parseServerInfo('# Server\r\nredis_version:6.3.4\r\nfeatures:cluster_mget\r\n')).toEqual({
      server: 'keydb',
      version: '6.3.4',
    })
    expect(parseServerInfo('# Server\r\nredis_version:6.3.4\r\n')).toEqual({
      server: 'redis',
      version: '6.3.4',
    })
    expect(parseServerInfo('nothing')).toEqual({ server: 'unknown', version: null })
    const failing = { info: () => Promise.reject(new Error('NOPERM')) }
    expect(await readServerInfo(failing, 100)).toEqual({ server: 'unknown', version: null })
    const cluster = {
      isCluster: true,
      info: () => Promise.reject(new Error('not on the cluster object')),
      nodes: () => [{ info: async () => '# Server\r\nredis_version:7.0.15\r\n' }],
    }
    expect(await readServerInfo(cluster, 100)).toEqual({ server: 'redis', version: '7.0.15' })
  })
})
