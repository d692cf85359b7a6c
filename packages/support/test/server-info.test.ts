import { describe, expect, it } from 'vitest'
import { parseReplicationInfo, readTopology, topologyOf } from '../src/index.js'

// INFO replication as the servers print it (Redis 7.0.15; KeyDB 6.3.4's format, server.cpp).
const REDIS_MASTER = [
  '# Replication',
  'role:master',
  'connected_slaves:0',
  'master_failover_state:no-failover',
  'master_replid:88087905fd2ad0c35255618dc4628c7b99994e24',
  '',
].join('\r\n')
const REDIS_MASTER_WITH_REPLICA = REDIS_MASTER.replace(
  'connected_slaves:0',
  'connected_slaves:1\r\nslave0:ip=127.0.0.1,port=7001,state=online,offset=42,lag=0',
)
const REDIS_REPLICA = [
  '# Replication',
  'role:slave',
  'master_host:127.0.0.1',
  'master_port:6379',
  'master_link_status:up',
  'slave_read_only:1',
  'connected_slaves:0',
  '',
].join('\r\n')
const KEYDB_ACTIVE_REPLICA = [
  '# Replication',
  'role:active-replica',
  'master_global_link_status:up',
  'connected_masters:1',
  'master_host:10.0.0.2',
  'master_port:6379',
  'master_link_status:up',
  'connected_slaves:1',
  '',
].join('\r\n')

describe('replication info', () => {
  it('reads the role and the replicas attached', () => {
    expect(parseReplicationInfo(REDIS_MASTER)).toEqual({ role: 'master', replicas: 0 })
    expect(parseReplicationInfo(REDIS_MASTER_WITH_REPLICA)).toEqual({ role: 'master', replicas: 1 })
    expect(parseReplicationInfo(REDIS_REPLICA)).toEqual({ role: 'replica', replicas: 0 })
    expect(parseReplicationInfo(KEYDB_ACTIVE_REPLICA)).toEqual({ role: 'active-replica', replicas: 1 })
    expect(parseReplicationInfo('')).toEqual({ role: 'unknown', replicas: 0 })
    expect(parseReplicationInfo('role:master\nconnected_slaves:x')).toEqual({ role: 'master', replicas: 0 })
  })

  it('is single-master only when every master is a plain master without replicas', () => {
    const master = parseReplicationInfo(REDIS_MASTER)
    expect(topologyOf([master])).toBe('single-master')
    expect(topologyOf([master, master, master])).toBe('single-master') // a cluster without replicas
    expect(topologyOf([master, parseReplicationInfo(REDIS_MASTER_WITH_REPLICA)])).toBe('replicated')
    expect(topologyOf([parseReplicationInfo(REDIS_REPLICA)])).toBe('replicated')
    expect(topologyOf([parseReplicationInfo(KEYDB_ACTIVE_REPLICA)])).toBe('replicated')
    expect(topologyOf([master, parseReplicationInfo('')])).toBe('unknown')
    expect(topologyOf([])).toBe('unknown')
  })

  it('asks every master of a cluster, never throws, and trusts no Sentinel setup', async () => {
    const node = (info: string) => ({ info: async () => info })
    expect(await readTopology(node(REDIS_MASTER), 100)).toBe('single-master')
    const cluster = (...infos: string[]) => ({
      isCluster: true,
      info: () => Promise.reject(new Error('not on the cluster object')),
      nodes: () => infos.map(node),
    })
    expect(await readTopology(cluster(REDIS_MASTER, REDIS_MASTER), 100)).toBe('single-master')
    expect(await readTopology(cluster(REDIS_MASTER, REDIS_MASTER_WITH_REPLICA), 100)).toBe('replicated')
    expect(await readTopology(cluster(), 100)).toBe('unknown')
    expect(await readTopology({ info: () => Promise.reject(new Error('NOPERM')) }, 100)).toBe('unknown')
    expect(await readTopology({ info: () => new Promise<string>(() => {}) }, 20)).toBe('unknown')
    const sentinel = { options: { sentinels: [{ host: 'x', port: 26379 }] }, info: async () => REDIS_MASTER }
    expect(await readTopology(sentinel, 100)).toBe('replicated')
  })
})
