import { defineProject } from 'vitest/config'
import { sourceResolution } from '../../vitest.shared.js'

export default defineProject({
  ...sourceResolution,
  test: {
    name: '@fastkey/demo',
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    // PGlite needs about 5 s to start on this machine: a test file that uses it starts one, in beforeAll.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
