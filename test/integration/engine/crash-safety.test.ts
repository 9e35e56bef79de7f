/**
 * Issue #4 acceptance on the real stack (Kafka, schema registry, Redis, MinIO): 200,000 generated
 * events over 4 partitions; the engine process is SIGKILLed at random moments five times and
 * restarted; the final Redis hashes equal each entity's latest reference row and the offline
 * Iceberg table equals every reference row — nothing lost, nothing duplicated.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { generatePurchases, prng } from '../../support/scenario.ts'

const EVENTS = Number(process.env.KFS_TEST_CRASH_EVENTS ?? 200_000)
const KILLS = 5

void test(`engine survives ${KILLS} SIGKILLs: ${EVENTS} events, online and offline equal the reference`, async () => {
  const scenario = await createEngineScenario()
  try {
    const produced = await scenario.produce(generatePurchases({ count: EVENTS, users: 2_000, seed: 11 }))
    assert.equal(new Set(produced.map((p) => p.partition)).size, 4, 'events spread over 4 partitions')
    const rand = prng(5)
    let killed = 0
    for (let i = 0; i < KILLS; i++) {
      const engine = startKfs(scenario.runArgs, scenario.env)
      await new Promise((r) => setTimeout(r, 2_500 + Math.floor(rand() * 4_000)))
      if (engine.child.exitCode === null) {
        engine.child.kill('SIGKILL')
        killed++
      }
      const result = await engine.done
      assert.ok(result.signal === 'SIGKILL' || result.code === 0, `engine run ${i} ended badly:\n${result.stderr.slice(-2000)}`)
    }
    assert.equal(killed, KILLS, 'every run was killed mid-flight')
    await runKfs([...scenario.runArgs, '--until-caught-up'], scenario.env)
    await scenario.assertMatchesReference(produced)
  } finally {
    await scenario.close()
  }
})
