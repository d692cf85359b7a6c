import { defineProject } from 'vitest/config'
import { sourceResolution } from '../../vitest.shared.js'

// Vitest hands the resolve conditions to Node (`--conditions`): with the shared `module` one, Node
// would load @opentelemetry/api's `module` build, whose extensionless imports it cannot resolve.
// Node itself never uses `module`; this package's tests resolve as Node does.
const conditions = sourceResolution.resolve.conditions.filter((condition) => condition !== 'module')

export default defineProject({
  resolve: { ...sourceResolution.resolve, conditions },
  ssr: { resolve: { ...sourceResolution.ssr.resolve, conditions } },
  test: {
    name: '@fastkey/fastify-cache',
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
})
