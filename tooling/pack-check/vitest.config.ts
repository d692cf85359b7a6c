import { defineProject } from 'vitest/config'
import { sourceResolution } from '../../vitest.shared.js'

export default defineProject({
  ...sourceResolution,
  test: {
    name: '@fastkey/pack-check',
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
})
