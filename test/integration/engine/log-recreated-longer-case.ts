/**
 * On real Kafka (docs/semantics.md §17, "A topic re-created with more records"): `kfs run
 * --until-caught-up` reads 600 events; the source topic is deleted and re-created with the same
 * partitions and given 1,500 other events — more than every checkpoint resumes past. `kfs run`
 * must stop with INVARIANT_VIOLATED naming the partition and offsets, not read the 900 records past
 * the old positions and exit 0 (what it did before the checkpoints named their last record).
 * On each Kafka client (KFS_KAFKA_CLIENT): the check lives in the engine, so both must agree.
 *
 * One client a test file (log-recreated-longer-*.test.ts): the run-scoped fixture views are named
 * once per process.
 */
import assert from 'node:assert/strict'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { connectedAdmin, recreateTopic } from '../../support/recreate-topic.ts'
import { generatePurchases } from '../../support/scenario.ts'

export async function logRecreatedLongerCase(client: 'kafkajs' | 'platformatic'): Promise<void> {
  const scenario = await createEngineScenario({ KFS_KAFKA_CLIENT: client })
  const admin = await connectedAdmin(scenario.env, `kfs-it-recreated-${scenario.run}`)
  try {
    const { source, log } = scenario
    const runArgs = [...scenario.runArgs, '--until-caught-up', '--idle', '1s', '--json']
    await scenario.produce(generatePurchases({ count: 600, users: 60, seed: 31 }))
    const first = await runKfs(runArgs, scenario.env)
    assert.equal(first.code, 0, first.stderr.slice(-2000))
    assert.equal((JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { consumed: number }).consumed, 600)
    const checkpointed = (await log.endOffsets(source.topic)).map(Number)

    await recreateTopic(admin, log, source)
    await scenario.produce(generatePurchases({ count: 1_500, users: 60, seed: 32 }))
    const ends = (await log.endOffsets(source.topic)).map(Number)
    ends.forEach((end, p) => assert.ok(end >= checkpointed[p]!, `partition ${p} holds at least its checkpoint's records again`))

    const second = await startKfs(runArgs, scenario.env).done
    const said = second.stderr + second.stdout
    assert.notEqual(second.code, 0, `kfs run must not read on past the old positions of a re-created topic: ${said.slice(-2000)}`)
    const named = new RegExp(
      `${source.topic}/(\\d+): its checkpoint resumes at offset (\\d+) after the record at offset (\\d+) \\(CRC-32 \\d+, timestamp \\d+\\), but the log holds another record there`,
    ).exec(said)
    assert.ok(named !== null, said.slice(-2000))
    const [, partition, at, last] = named
    assert.equal(Number(at), checkpointed[Number(partition)], 'the checkpoint position named')
    assert.ok(Number(last) < Number(at))
    assert.match(said, /INVARIANT_VIOLATED/)
  } finally {
    await admin.disconnect()
    await scenario.close()
  }
}
