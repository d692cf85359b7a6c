import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../src/config.js'
import { spawnServer } from './helpers/server-process.js'

function configError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`)
}

describe('parseConfig', () => {
  it('has defaults for everything', () => {
    expect(parseConfig({})).toEqual({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      keydbUrl: undefined,
      pgliteDir: undefined,
      seedProducts: 10_000,
      logLevel: 'info',
    })
  })

  it('reads every variable, and treats empty values as unset', () => {
    const config = parseConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://demo:secret@db:5432/demo',
      KEYDB_URL: 'redis://keydb:6379',
      SEED_PRODUCTS: '0',
      LOG_LEVEL: 'DEBUG',
      PGLITE_DIR: '',
    })
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://demo:secret@db:5432/demo',
      keydbUrl: 'redis://keydb:6379',
      pgliteDir: undefined,
      seedProducts: 0,
      logLevel: 'debug',
    })
    expect(parseConfig({ PORT: ' ', PGLITE_DIR: '/var/lib/demo' })).toMatchObject({
      port: 3000,
      pgliteDir: '/var/lib/demo',
    })
  })

  it.each([
    ['PORT', { PORT: '0' }],
    ['PORT', { PORT: '65536' }],
    ['PORT', { PORT: 'http' }],
    ['PORT', { PORT: '3000.5' }],
    ['PORT', { PORT: '-1' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/demo' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['KEYDB_URL', { KEYDB_URL: 'localhost:6379' }],
    ['KEYDB_URL', { KEYDB_URL: 'redis://' }],
    ['KEYDB_URL', { KEYDB_URL: 'redis://keydb:6379/abc' }],
    ['KEYDB_URL', { KEYDB_URL: 'redis://keydb:0' }],
    ['SEED_PRODUCTS', { SEED_PRODUCTS: 'lots' }],
    ['SEED_PRODUCTS', { SEED_PRODUCTS: '2000000' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
    ['PGLITE_DIR', { DATABASE_URL: 'postgres://db/demo', PGLITE_DIR: '/tmp/demo' }],
  ])('rejects a bad %s (%j)', (variable, env) => {
    const error = configError(env)
    expect(error.code).toBe('FST_DEMO_CONFIG')
    expect(error.variable).toBe(variable)
    expect(error.message).not.toContain('\n')
  })

  it('never echoes a URL that may hold a password', () => {
    const error = configError({ DATABASE_URL: 'http://demo:hunter2@db/demo' })
    expect(error.message).not.toContain('hunter2')
    expect(configError({ KEYDB_URL: 'redis://u:hun@ter2@keydb:0' }).message).not.toContain('ter2')
  })
})

describe('server.ts with a bad PORT', () => {
  it('prints one clear line and exits with code 1', async () => {
    const server = spawnServer({ PORT: '70000' })
    expect(await server.exited).toEqual({ code: 1, signal: null })
    const lines = server.stderr().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/PORT/)
    expect(server.stdoutLines.filter(Boolean)).toEqual([])
  })
})
