import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

function packageVersion(main: string): string {
  let dir = dirname(main)
  while (dir !== dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'ioredis' && pkg.version) return pkg.version
    } catch {
      // no package.json at this level: keep walking up
    }
    dir = dirname(dir)
  }
  throw new Error(`no ioredis package.json above ${main}`)
}

/**
 * The version of the ioredis copy whose `Redis` class the caller imported: found by identity among
 * the two installed copies (`ioredis`, the default, and the `ioredis5` alias), so a run that was meant
 * to use ioredis 5 but silently loaded 6 is told apart. Throws when the class is from neither.
 */
export function loadedIoredisVersion(imported: unknown): string {
  for (const name of ['ioredis', 'ioredis5']) {
    const main = require.resolve(name)
    if ((require(main) as { Redis: unknown }).Redis === imported) return packageVersion(main)
  }
  throw new Error('the Redis class comes from neither the ioredis nor the ioredis5 package')
}
