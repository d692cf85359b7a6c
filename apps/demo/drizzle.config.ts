import { defineConfig } from 'drizzle-kit'

// `pnpm --filter @fastkey/demo db:generate` diffs src/db/schema.ts against drizzle/ and writes a new
// migration there. Generation needs no database; the app applies the migrations at start.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
})
