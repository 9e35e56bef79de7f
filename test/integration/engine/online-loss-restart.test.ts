/**
 * `kfs run` makes its Redis rows complete again by itself after a Redis without persistence
 * restarted empty while it ran (a private server: the stack's is shared), as
 * online-loss.test.ts does after a deletion of its keys. Before the loss watch, the entities with
 * no event after the restart read MISSING for good and this test failed on the first of them.
 */
import { test } from 'node:test'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { lossAndRecovery } from '../../support/online-loss-run.ts'
import { freePort, startPrivateRedis } from '../../support/private-servers.ts'

void test("a private Redis without persistence restarted while kfs run runs: it reloads every entity's row by itself", async () => {
  const redis = await startPrivateRedis()
  const scenario = await createEngineScenario({}, { KFS_REDIS_URL: redis.url })
  try {
    await lossAndRecovery(scenario, await freePort(), () => redis.restartEmpty())
  } finally {
    await scenario.close()
    await redis.stop()
  }
})
