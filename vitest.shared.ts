// Shared by every project's vitest.config.ts: workspace packages resolve to their TypeScript sources
// through the custom export condition, so tests never need a build step.
const conditions = ['@fastkey/source', 'module', 'node', 'import', 'default']

export const sourceResolution = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@fastkey/source'] } },
}
