import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { KEYDB_IMAGE, POSTGRES_IMAGE } from '../src/index.js'

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8')

/** `service -> image` from docker-compose.yml (two-space service keys, `image:` under them). */
function composeImages(): Map<string, string> {
  const images = new Map<string, string>()
  let service: string | undefined
  for (const line of read('docker-compose.yml').split('\n')) {
    const key = /^ {2}([\w-]+):\s*$/.exec(line)
    if (key) service = key[1]
    const image = /^ {4}image:\s*(\S+)/.exec(line)
    if (image && service) images.set(service, image[1]!)
  }
  return images
}

describe('container images are pinned', () => {
  const images = composeImages()

  it('every compose image has an explicit version tag, never latest', () => {
    expect([...images.keys()].sort()).toEqual(['grafana', 'keydb', 'postgres', 'prometheus'])
    for (const [service, image] of images) {
      const tag = /:([^:/]+)$/.exec(image)?.[1]
      expect(tag, service).toBeDefined()
      expect(tag, service).not.toBe('latest')
      // A version number, not only a flavour such as `alpine`.
      expect(tag, service).toMatch(/\d+\.\d+/)
    }
  })

  it('testcontainers runs the same images as compose', () => {
    expect(KEYDB_IMAGE).toBe(images.get('keydb'))
    expect(POSTGRES_IMAGE).toBe(images.get('postgres'))
  })

  it("the demo's Dockerfile starts from a pinned Node image", () => {
    const from = [...read('docker/demo.Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1])
    expect(from.length).toBeGreaterThan(0)
    for (const image of from) expect(image).toMatch(/^node:\d+\.\d+\.\d+-/)
  })
})
