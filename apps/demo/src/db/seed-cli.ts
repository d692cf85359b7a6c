// `pnpm --filter @fastkey/demo seed`: migrate, empty the catalogue and seed it again (destructive:
// product edits are lost). Reads the same environment as the server (DATABASE_URL, PGLITE_DIR,
// SEED_PRODUCTS).
import { ConfigError, parseConfig } from '../config.js'
import { createDatabase } from './client.js'
import { prepareDatabase } from './setup.js'

function fail(message: string): never {
  process.stderr.write(`demo seed: ${message}\n`)
  process.exit(1)
}

let config: ReturnType<typeof parseConfig>
try {
  config = parseConfig(process.env)
} catch (error) {
  if (error instanceof ConfigError) fail(error.message)
  throw error
}

const database = await createDatabase({ url: config.databaseUrl, pgliteDir: config.pgliteDir })
try {
  const started = performance.now()
  const result = await prepareDatabase(database, { seed: { products: config.seedProducts }, reset: true })
  const ms = Math.round(performance.now() - started)
  const where = `${database.kind} ${database.label}`
  process.stdout.write(
    `seeded ${result.products} products in ${result.categories} categories into ${where} (${ms} ms)\n`,
  )
  if (database.kind === 'pglite' && !config.pgliteDir) {
    process.stdout.write('note: in-memory PGlite is gone when this exits; set DATABASE_URL or PGLITE_DIR\n')
  }
} catch (error) {
  fail(`seeding ${database.label} failed: ${error instanceof Error ? error.message : String(error)}`)
} finally {
  await database.close()
}
