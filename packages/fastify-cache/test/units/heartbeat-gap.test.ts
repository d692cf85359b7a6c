import { expect, it, onTestFinished } from 'vitest'
import { Bus, HEARTBEAT_MS } from '../../src/bus/bus.js'
import { keydbStandaloneKit, sleep } from '../helpers.js'

// The bench's stampede over 3 processes: 5 origin calls in one trial, "the bus heard nothing for
// 700 ms". A check landing a hair under HEARTBEAT_MS after the last publish skipped the heartbeat,
// so an idle instance spoke every 500 ms at times; a busy turn of 200 ms more then read as a deaf
// subscription (a gap: the store was left alone, every instance ran the origin).

it('an idle instance speaks at least every heartbeat period and a half, whatever the timer drift', async () => {
  const { store: real } = await keydbStandaloneKit.make()
  const sent: number[] = []
  const store = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'publish')
        return (message: string) => {
          sent.push(performance.now())
          return target.publish(message)
        }
      const value = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const bus = new Bus(store, 'beat', {
    reset: () => {},
    silent: () => {},
    holding: () => false,
    error: () => {},
  })
  onTestFinished(() => bus.close())
  await bus.start()
  await sleep(20 * HEARTBEAT_MS)
  const gaps = sent.slice(1).map((at, i) => at - sent[i]!)
  expect(gaps.length).toBeGreaterThan(10)
  expect(Math.max(...gaps)).toBeLessThan(1.5 * HEARTBEAT_MS)
})
