/**
 * RedisOnlineStore on a real Redis Cluster (3 masters started here on free ports): hash-tagged
 * keys, per-key scripts and the change feed work across slots. Runs the shared contract suite.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { redisKeySlot } from '../../../adapters/online-store/redis/key-slot.ts'
import { chunksBySlot } from '../../../adapters/online-store/redis/write-chunks.ts'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { runOnlineStoreContract } from '../../contracts/online-store.ts'
import { assertOracle } from './online-oracle-property.ts'
import { uniquePrefix } from './redis-env.ts'

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

const nodes: ChildProcess[] = []
const ports: number[] = []
const dir = mkdtempSync(join(tmpdir(), 'kfs-cluster-'))

before(async () => {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed (apt-get install -y redis-server)')
  for (let i = 0; i < 3; i++) {
    // Cluster bus port = port + 10000, so keep ports low enough.
    let port = await freePort()
    while (port > 55_000) port = await freePort()
    ports.push(port)
    nodes.push(
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)], {
        stdio: 'ignore',
      }),
    )
  }
  for (const port of ports) {
    for (let i = 0; spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() !== 'PONG'; i++) {
      if (i > 100) throw new Error(`cluster node ${port} did not start`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'])
  if (create.status !== 0) throw new Error(`cluster create failed: ${create.stdout?.toString()} ${create.stderr?.toString()}`)
  for (let i = 0; !spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info']).stdout?.toString().includes('cluster_state:ok'); i++) {
    if (i > 100) throw new Error('cluster never reached cluster_state:ok')
    await new Promise((r) => setTimeout(r, 100))
  }
})

after(() => {
  for (const n of nodes) n.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

runOnlineStoreContract('redis cluster', async () => {
  const store = new RedisOnlineStore({ clusterNodes: ports.map((port) => ({ host: '127.0.0.1', port })), keyPrefix: uniquePrefix() })
  await store.ready()
  return { store, advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), nowMs: () => Date.now() }
})

void test('online store > redis cluster oracle > random writes of odd hash tags read back as the model says', () =>
  assertOracle(() => new RedisOnlineStore({ clusterNodes: ports.map((port) => ({ host: '127.0.0.1', port })), keyPrefix: uniquePrefix(), publish: false }), 15))

void test('online store > redis cluster > the writer groups keys by the slot Redis itself gives them (CLUSTER KEYSLOT), braces anywhere', async () => {
  const raw = new Redis(ports[0]!, '127.0.0.1')
  try {
    const edges = ['', '123456789', '{', '}', '{}', '}{', '{}{x}', 'a{b}c', '{{}', '{a}}', 'k:v:1:{}{x}', 'k:v:1:{{}', 'k:v:1:{é}', 'é{}', '🔑{🔑}']
    const fromAlphabet = fc.array(fc.constantFrom('{', '}', 'a', 'b', ':', 'é', '🔑'), { maxLength: 12 }).map((cs) => cs.join(''))
    const keys = [...edges, ...fc.sample(fromAlphabet, { numRuns: 400, seed: 31 }), ...fc.sample(fromAlphabet, { numRuns: 100, seed: 32 }).map((e) => `kfs:stats:1:{${e}}`)]
    const slots = new Map<string, unknown>()
    for (const key of keys) slots.set(key, await raw.call('CLUSTER', 'KEYSLOT', key))
    for (const key of keys) assert.equal(redisKeySlot(key), slots.get(key), JSON.stringify(key))
    // Every script call the writer makes holds keys of one slot, as Redis counts them.
    const packed = keys.map((key) => ({ key, packed: '', row: { entityKey: key, asOfMs: 0, values: [] } }))
    for (const chunk of chunksBySlot(packed)) {
      assert.equal(new Set(chunk.map((r) => slots.get(r.key))).size, 1, `one call, keys of several slots: ${JSON.stringify(chunk.map((r) => r.key))}`)
    }
  } finally {
    raw.disconnect()
  }
})
