/**
 * Online rebuild on the real stack: Redis loses a view's data while the engine runs; the engine
 * keeps writing new rows; `kfs replay --online-from-offline` restores every entity's latest row
 * from the offline table without clobbering anything fresher; Redis then equals the reference.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { generatePurchases } from '../../support/scenario.ts'

void test('Redis flushed mid-run, then reloaded from the offline tables: online equals the reference', async () => {
  const scenario = await createEngineScenario()
  const redis = new Redis(scenario.env.KFS_REDIS_URL!)
  try {
    const events = generatePurchases({ count: 24_000, users: 600, seed: 77 })
    const first = await scenario.produce(events.slice(0, 16_000))
    await runKfs([...scenario.runArgs, '--until-caught-up'], scenario.env)
    const engine = startKfs([...scenario.runArgs, '--until-caught-up', '--idle', '3s'], scenario.env)
    const second = await scenario.produce(events.slice(16_000))
    // Redis "loses" this view's keys while the engine is consuming the second batch.
    let deleted = 0
    for (const key of await redis.keys(`kfs:${scenario.view.name}:*`)) deleted += await redis.del(key)
    assert.ok(deleted > 100, `deleted ${deleted} keys`)
    const result = await engine.done
    assert.equal(result.code, 0, result.stderr.slice(-2000))
    // The engine healed what it rewrote (event and decay rows); now Redis loses everything.
    await scenario.assertMatchesReference([...first, ...second])
    for (const key of await redis.keys(`kfs:${scenario.view.name}:*`)) await redis.del(key)
    const reload = await runKfs(['replay', '--online-from-offline', '--json'], scenario.env)
    const [summary] = JSON.parse(reload.stdout) as { entities: number; written: number }[]
    assert.ok(summary && summary.written === summary.entities && summary.entities > 500, reload.stdout)
    await scenario.assertMatchesReference([...first, ...second])
  } finally {
    redis.disconnect()
    await scenario.close()
  }
})
