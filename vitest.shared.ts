// Shared by every project's vitest.config.ts: workspace packages resolve to their TypeScript sources
// through the custom export condition, so tests never need a build step.
import { createRequire } from 'node:module'
import { requestedIoredisMajor } from './tooling/test-services/src/ioredis-major.js'

const conditions = ['@fastkey/source', 'module', 'node', 'import', 'default']

/**
 * `FASTKEY_IOREDIS=5` swaps every `import ... from 'ioredis'` (tests, package sources, test-services) for
 * the `ioredis5` alias package (`npm:ioredis@^5.11`), so the suites run once on each supported major.
 * Unset (or `6`) is the workspace default, ioredis 6. Each package's `test/ioredis-major.test.ts`
 * checks that the swap really happened.
 */
function ioredisAlias(): Array<{ find: RegExp; replacement: string }> {
  if (requestedIoredisMajor() === 6) return []
  // The exact main file of the alias package (its real path under node_modules/.pnpm), so vitest
  // externalises it and Node loads that copy: a bare `ioredis` never reaches the default copy.
  const main = createRequire(import.meta.url).resolve('ioredis5')
  return [{ find: /^ioredis$/, replacement: main }]
}

export const sourceResolution = {
  resolve: { conditions, alias: ioredisAlias() },
  ssr: { resolve: { conditions, externalConditions: ['@fastkey/source'] } },
}
