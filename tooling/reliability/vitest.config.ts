import { defineProject } from 'vitest/config'
import { sourceResolution } from '../../vitest.shared.js'

export default defineProject({
  ...sourceResolution,
  test: {
    name: '@fastkey/reliability',
    include: ['test/**/*.test.ts'],
    // Scenarios kill servers, measure latency and event-loop delay: one file at a time, so no
    // scenario's figures include another's load on this 2-core machine.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
