/**
 * Scale-out on the real stack: two engine processes share one consumer group (each owns some
 * partitions); one is SIGKILLed mid-run; the survivor takes over its partitions from their last
 * checkpoints; the result equals the reference model, online and offline.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { startKfs } from '../../support/kfs-process.ts'
import { generatePurchases } from '../../support/scenario.ts'

void test('two engines in one group, one killed mid-run: same result as the reference', async () => {
  // A short session timeout so the group notices the dead member quickly.
  const scenario = await createEngineScenario()
  try {
    const produced = await scenario.produce(generatePurchases({ count: 40_000, users: 1_000, seed: 23 }))
    const survivor = startKfs([...scenario.runArgs, '--until-caught-up', '--idle', '3s'], scenario.env)
    const victim = startKfs(scenario.runArgs, scenario.env)
    await new Promise((r) => setTimeout(r, 9_000))
    assert.equal(victim.child.exitCode, null, `the second engine should still be running:\n${victim.child.exitCode}`)
    victim.child.kill('SIGKILL')
    await victim.done
    const result = await survivor.done
    assert.equal(result.code, 0, `survivor failed:\n${result.stderr.slice(-3000)}`)
    await scenario.assertMatchesReference(produced)
  } finally {
    await scenario.close()
  }
})
