/**
 * On real Kafka, a log that no longer holds what a checkpoint assumed (docs/semantics.md §17):
 * - the source topic deleted and re-created with fewer records: `kfs run` stops with the partition
 *   and both offsets named, rather than let Kafka's out-of-range reset pick where to read;
 * - records deleted by retention (DeleteRecords, what retention does) past a checkpoint: `kfs run`
 *   resumes at the first record left, reports the gap, and reads exactly the records left.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { connectedAdmin, recreateTopic } from '../../support/recreate-topic.ts'
import { generatePurchases, waitFor } from '../../support/scenario.ts'

interface RunSummary {
  consumed: number
  deletedBeforeRead: Record<string, number>
}

const summaryOf = (stdout: string): RunSummary => JSON.parse(stdout.trim().split('\n').at(-1)!) as RunSummary

void test('a topic re-created shorter than the checkpoints stops kfs run with the offsets named; a retention gap is resumed past and counted', async () => {
  const scenario = await createEngineScenario()
  const admin = await connectedAdmin(scenario.env, `kfs-it-lost-${scenario.run}`)
  try {
    const { source, log } = scenario
    const events = generatePurchases({ count: 2_400, users: 60, seed: 23 })
    const runArgs = [...scenario.runArgs, '--until-caught-up', '--idle', '1s', '--json']

    // Retention: read 800, produce 1,600 more, delete the first 500 of each partition's records.
    await scenario.produce(events.slice(0, 800))
    const first = await runKfs(runArgs, scenario.env)
    assert.equal(first.code, 0, first.stderr.slice(-2000))
    assert.equal(summaryOf(first.stdout).consumed, 800)
    // Read to the end and stopped: its final checkpoints are at the ends.
    const checkpointed = (await log.endOffsets(source.topic)).map(Number)
    await scenario.produce(events.slice(800))
    const ends = (await log.endOffsets(source.topic)).map(Number)
    const cut = ends.map((end) => Math.min(500, end))
    await admin.fetchTopicMetadata({ topics: [source.topic] })
    await admin.deleteTopicRecords({
      topic: source.topic,
      partitions: cut.map((offset, partition) => ({ partition, offset: String(offset) })),
    })
    await waitFor(
      async () => (await log.startOffsets(source.topic)).every((s, p) => Number(s) === cut[p]),
      'the deleted records gone',
    )
    const gone = cut.reduce((n, c, p) => n + Math.max(0, c - checkpointed[p]!), 0)
    const left = ends.reduce((n, end, p) => n + end - Math.max(cut[p]!, checkpointed[p]!), 0)
    assert.ok(gone > 0, `the cut passes some checkpoint (checkpointed ${checkpointed.join(',')}, cut ${cut.join(',')})`)
    const second = await runKfs(runArgs, scenario.env)
    assert.equal(second.code, 0, second.stderr.slice(-2000))
    const summary = summaryOf(second.stdout)
    assert.equal(summary.consumed, left, 'exactly the records left past each checkpoint')
    assert.deepEqual(summary.deletedBeforeRead, { [source.topic]: gone })

    // Re-created: the topic deleted, made again, given 300 records — fewer than any checkpoint.
    await recreateTopic(admin, log, source)
    await scenario.produce(events.slice(0, 300))
    const third = await startKfs(runArgs, scenario.env).done
    assert.notEqual(third.code, 0, 'kfs run must not carry on past records the log lost')
    assert.match(
      third.stderr + third.stdout,
      new RegExp(`${source.topic}/\\d+: its checkpoint resumes at offset \\d+, but the log ends at offset \\d+`),
    )
  } finally {
    await admin.disconnect()
    await scenario.close()
  }
})
