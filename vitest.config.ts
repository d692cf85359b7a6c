import { defineConfig } from 'vitest/config'

// Workspace packages are resolved to their TypeScript sources through the custom export
// condition, so tests never need a build step.
const conditions = ['@fastkey/source', 'module', 'node', 'import', 'default']

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@fastkey/source'] } },
  test: {
    projects: ['packages/*', 'apps/*', 'tooling/*'],
    reporters: ['default'],
  },
})
