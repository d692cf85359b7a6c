import net from 'node:net'

/**
 * Finds the services the tests talk to, in this order: environment variables, then a server already
 * answering on the default local port, then testcontainers (only when a Docker engine answers), and
 * otherwise a clear error saying what to start or set. Results are memoised per process.
 */

export interface ClusterNode {
  host: string
  port: number
}

/** The images docker-compose.yml runs, pinned (a test keeps the two in step). */
export const KEYDB_IMAGE = 'eqalpha/keydb:x86_64_v6.3.4'
export const POSTGRES_IMAGE = 'postgres:16.4-alpine'

let redisPromise: Promise<string> | undefined
let databasePromise: Promise<string> | undefined
// Containers started here live as long as the test process; testcontainers' reaper removes them.
const started: Array<{ stop(): Promise<unknown> }> = []

export function portAnswers(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    await getContainerRuntimeClient()
    return true
  } catch {
    return false
  }
}

function missing(what: string, hint: string): Error {
  return new Error(
    `No ${what} for the tests: ${hint}. Set the env var, start the local service, or run \`docker compose up -d\`.`,
  )
}

/** Standalone KeyDB/Redis URL: `KEYDB_URL`, else 127.0.0.1:6379, else a KeyDB container. */
export function redisUrl(): Promise<string> {
  redisPromise ??= (async () => {
    if (process.env.KEYDB_URL) return process.env.KEYDB_URL
    if (await portAnswers(6379)) return 'redis://127.0.0.1:6379'
    if (await dockerAvailable()) {
      const { GenericContainer, Wait } = await import('testcontainers')
      const container = await new GenericContainer(KEYDB_IMAGE)
        .withCommand(['keydb-server', '--server-threads', '2', '--save', '', '--appendonly', 'no'])
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections|Server initialized/))
        .start()
      started.push(container)
      return `redis://${container.getHost()}:${container.getMappedPort(6379)}`
    }
    throw missing(
      'KeyDB/Redis',
      'KEYDB_URL is unset, nothing answers on 127.0.0.1:6379 and Docker is not reachable',
    )
  })()
  return redisPromise
}

/**
 * Cluster seed nodes from `KEYDB_CLUSTER_NODES` ("host:port,host:port"), or `undefined` when no
 * cluster is configured: cluster suites then skip and say so loudly (CI always sets it).
 */
export function clusterNodes(): ClusterNode[] | undefined {
  const raw = process.env.KEYDB_CLUSTER_NODES
  if (!raw) return undefined
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const url = part.includes('://') ? new URL(part) : new URL(`redis://${part}`)
      return { host: url.hostname, port: Number(url.port || 6379) }
    })
}

let warnedCluster = false
/** Logs once per process that cluster tests were skipped because no cluster is configured. */
export function warnClusterSkipped(suite: string): void {
  if (warnedCluster) return
  warnedCluster = true
  console.warn(
    `\n*** ${suite}: KEYDB_CLUSTER_NODES is not set, Redis Cluster tests are SKIPPED. ` +
      'CI starts a cluster; locally run `bash .ci/cluster.sh start` and export what it prints. ***\n',
  )
}

async function postgresAnswers(url: string): Promise<boolean> {
  const { default: postgres } = await import('postgres')
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })
  try {
    await sql`select 1`
    return true
  } catch {
    return false
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** Postgres URL: `DATABASE_URL`, else 127.0.0.1:5432 (compose credentials, then trust auth), else a container. */
export function databaseUrl(): Promise<string> {
  databasePromise ??= (async () => {
    if (process.env.DATABASE_URL) return process.env.DATABASE_URL
    if (await portAnswers(5432)) {
      for (const url of [
        'postgres://fastkey:fastkey@127.0.0.1:5432/fastkey',
        'postgres://postgres@127.0.0.1:5432/test',
        'postgres://root@127.0.0.1:5432/test',
      ]) {
        if (await postgresAnswers(url)) return url
      }
    }
    if (await dockerAvailable()) {
      const { GenericContainer, Wait } = await import('testcontainers')
      const container = await new GenericContainer(POSTGRES_IMAGE)
        .withEnvironment({ POSTGRES_USER: 'fastkey', POSTGRES_PASSWORD: 'fastkey', POSTGRES_DB: 'fastkey' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start()
      started.push(container)
      return `postgres://fastkey:fastkey@${container.getHost()}:${container.getMappedPort(5432)}/fastkey`
    }
    throw missing(
      'PostgreSQL',
      'DATABASE_URL is unset, no server accepts us on 127.0.0.1:5432 and Docker is not reachable',
    )
  })()
  return databasePromise
}
