/**
 * Redis goes away under a running server and comes back: reads answer 503 with a reason at once
 * (no queueing), /healthz reports it, and service resumes without a restart — including writes,
 * whose script the restarted Redis no longer has. Uses a private redis-server on a free port.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer as createNetServer } from 'node:net'
import { after, test } from 'node:test'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { createServer } from '../../../serving/server/index.ts'
import { row } from '../../contracts/online-store.ts'
import { userStats } from '../../unit/serving/fixtures.ts'

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

async function startRedis(port: number): Promise<ChildProcess> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed (apt-get install -y redis-server)')
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const probe = new RedisOnlineStore({ url: `redis://127.0.0.1:${port}` })
    const ok = await probe.ready(250).then(
      () => true,
      () => false,
    )
    await probe.close()
    if (ok) return child
  }
  child.kill('SIGKILL')
  throw new Error(`redis-server did not start on port ${port}`)
}

const children: ChildProcess[] = []
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

async function untilStatus(url: string, status: number, timeoutMs = 15_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await fetch(url)
    if (res.status === status) return res
    await res.arrayBuffer()
    if (Date.now() > deadline) assert.fail(`${url} still answers ${res.status}, expected ${status}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

void test('serving > Redis outage: fast 503 with a reason, then recovery without restart', async () => {
  const port = await freePort()
  const redis = await startRedis(port)
  children.push(redis)
  const store = new RedisOnlineStore({ url: `redis://127.0.0.1:${port}`, writeAttempts: 3, writeMinDelayMs: 10, writeMaxDelayMs: 20 })
  await store.ready()
  const server = createServer({ store, views: [userStats] })
  const base = `http://127.0.0.1:${await server.listen(0)}`
  try {
    await store.writeRows(userStats, [row('u1', Date.now(), [1, 2, 'Oslo'])])
    assert.equal((await fetch(`${base}/v1/features/user_stats/u1`)).status, 200)

    const exited = new Promise((resolve) => redis.once('exit', resolve))
    redis.kill('SIGKILL')
    await exited
    const down = await untilStatus(`${base}/v1/features/user_stats/u1`, 503)
    const body = (await down.json()) as { error: { code: string; message: string } }
    assert.equal(body.error.code, 'SOURCE_UNAVAILABLE')
    assert.match(body.error.message, /unavailable/)
    assert.equal((await fetch(`${base}/healthz`)).status, 503)
    await assert.rejects(store.writeRows(userStats, [row('u1', Date.now(), [1, 2, 'x'])]), { code: 'RETRIES_EXHAUSTED' })

    const again = await startRedis(port)
    children.push(again)
    const back = (await (await untilStatus(`${base}/v1/features/user_stats/u1`, 200)).json()) as { status: string }
    // The private server kept nothing across the restart.
    assert.equal(back.status, 'MISSING')
    await untilStatus(`${base}/healthz`, 200)
    const t = Date.now()
    assert.deepEqual(await store.writeRows(userStats, [row('u1', t, [5, 6, 'Rome'])]), { written: 1, stale: 0 })
    const fresh = (await (await fetch(`${base}/v1/features/user_stats/u1`)).json()) as { as_of: number; features: unknown }
    assert.deepEqual([fresh.as_of, fresh.features], [t, { clicks_1h: 5, spend_1h: 6, last_city: 'Rome' }])
  } finally {
    await server.close()
    await store.close()
  }
})
