/**
 * `kfs run` on the real stack makes its Redis rows complete again by itself after Redis lost them
 * (engine/online-loss-watch.ts): here the run's keys are deleted while it runs, as FLUSHDB would
 * (limited to this run's keys: the stack's Redis is shared). After the loss only every fourth user
 * gets new events, so the other entities' rows come back only by the reload: before it, they read
 * MISSING for good and this test failed on the first of them.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { lossAndRecovery } from '../../support/online-loss-run.ts'
import { freePort } from '../../support/private-servers.ts'

void test("Redis keys of the run deleted while kfs run runs: it reloads every entity's row by itself", async () => {
  const scenario = await createEngineScenario()
  const redis = new Redis(scenario.env.KFS_REDIS_URL!)
  try {
    await lossAndRecovery(scenario, await freePort(), async () => {
      // FLUSHDB of this run's namespace only: its view's keys and its group's marker.
      const keys = [
        ...(await redis.keys(`kfs:${scenario.view.name}:*`)),
        ...(await redis.keys(`kfs:kfs-online-marker:1:{kfs-${scenario.run}}`)),
      ]
      assert.ok(keys.length > 300, `${keys.length} keys`)
      for (const key of keys) await redis.del(key)
    })
  } finally {
    redis.disconnect()
    await scenario.close()
  }
})
