/**
 * Issue #5 acceptance on real Kafka: out-of-order and late events and an idle partition (its
 * watermark advanced by idle markers the engine archives), the live engine SIGKILLed and restarted
 * twice; then `kfs verify-parity` finds replay and live rows 100 % identical.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { partitionForKey } from '../../../adapters/event-log/embedded/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { generatePurchases } from '../../support/scenario.ts'

void test('live engine killed twice, an idle partition: verify-parity reports 100 % identical rows', async () => {
  process.env.KFS_TEST_IDLE_TIMEOUT = '2s'
  const scenario = await createEngineScenario({ KFS_TEST_IDLE_TIMEOUT: '2s' })
  try {
    const events = generatePurchases({ count: 30_000, users: 800, seed: 41 })
    await scenario.produce(events.slice(0, 20_000))
    for (const waitMs of [3_000, 6_000]) {
      const engine = startKfs(scenario.runArgs, scenario.env)
      await new Promise((r) => setTimeout(r, waitMs))
      engine.child.kill('SIGKILL')
      const result = await engine.done
      assert.equal(result.signal, 'SIGKILL', `the engine ended before it was killed:\n${result.stderr.slice(-2000)}`)
    }
    // Partition 3 stays idle from here on: only its idle markers move its watermark.
    const quiet = 3
    await scenario.produce(events.slice(20_000).filter((e) => partitionForKey(e.user_id, scenario.source.partitions) !== quiet))
    await runKfs([...scenario.runArgs, '--until-caught-up', '--idle', '6s'], scenario.env)

    const markers = []
    for await (const row of new IcebergOfflineSink(scenario.store).readArchive(scenario.source.topic, quiet)) if (row.markerWatermarkMs !== null) markers.push(row)
    assert.ok(markers.length > 0, 'the idle partition archived watermark markers')

    const parity = await runKfs(['verify-parity', '--group', `kfs-${scenario.run}`, '--json'], scenario.env)
    const [report] = JSON.parse(parity.stdout) as { ok: boolean; liveRows: number; replayRows: number; matchingRows: number }[]
    assert.ok(report, 'one report')
    assert.equal(report.ok, true)
    assert.ok(report.liveRows > 20_000, `live rows: ${report.liveRows}`)
    assert.equal(report.matchingRows, report.liveRows)
    assert.equal(report.replayRows, report.liveRows)
  } finally {
    await scenario.close()
  }
})
