/**
 * `kfs run --until-caught-up` over a source topic whose batches another producer compressed with
 * every codec Kafka defines (none, gzip, snappy, lz4, zstd, in turn on every partition), on each
 * Kafka client (KFS_KAFKA_CLIENT kafkajs and platformatic): the engine reads every record, so the
 * offline table and Redis equal the reference model over all of them, and replay from the archive
 * (`kfs verify-parity`) finds the same rows. The batches are written by @platformatic/kafka's
 * producer, whose codecs are not the ones kfs registers in kafkajs.
 *
 * One client a test file (compressed-source-*.test.ts): the run-scoped fixture views are named
 * once per process.
 */
import assert from 'node:assert/strict'
import { Producer } from '@platformatic/kafka'
import { partitionForKey } from '../../../core/murmur2.ts'
import { createEngineScenario, type EngineScenario } from '../../support/engine-scenario.ts'
import { KAFKA_CODECS } from '../../support/java-producer.ts'
import { runKfs } from '../../support/kfs-process.ts'
import { generatePurchases, type ProducedRecord, type Purchase } from '../../support/scenario.ts'

/** Per codec in turn, one compressed batch per partition: every partition holds every codec. */
async function produceCompressed(scenario: EngineScenario, events: readonly Purchase[]): Promise<ProducedRecord[]> {
  const { source, encoder } = scenario
  const producer = new Producer({
    clientId: 'kfs-compressed-source',
    bootstrapBrokers: scenario.env.KFS_KAFKA_BROKERS!.split(','),
  })
  const produced: ProducedRecord[] = []
  try {
    const slice = Math.ceil(events.length / KAFKA_CODECS.length)
    for (const [i, codec] of KAFKA_CODECS.entries()) {
      const byPartition = new Map<number, Purchase[]>()
      for (const e of events.slice(i * slice, (i + 1) * slice)) {
        const p = partitionForKey(e.user_id, source.partitions)
        byPartition.set(p, [...(byPartition.get(p) ?? []), e])
      }
      for (const [partition, batch] of byPartition) {
        const result = await producer.send({
          messages: batch.map((e) => ({
            topic: source.topic,
            partition,
            key: Buffer.from(e.user_id),
            value: Buffer.from(encoder.encode(e)),
          })),
          compression: codec,
          acks: -1,
        })
        const base = BigInt(result.offsets?.find((o) => o.partition === partition)?.offset ?? -1n)
        assert.ok(base >= 0n, `the base offset of the ${codec} batch of partition ${partition}`)
        batch.forEach((event, j) => produced.push({ partition, offset: (base + BigInt(j)).toString(), event }))
      }
    }
  } finally {
    await producer.close()
  }
  return produced
}

export async function compressedSourceCase(client: 'kafkajs' | 'platformatic'): Promise<void> {
  const scenario = await createEngineScenario({ KFS_KAFKA_CLIENT: client })
  try {
    const produced = await produceCompressed(scenario, generatePurchases({ count: 5_000, users: 300, seed: 17 }))
    await runKfs([...scenario.runArgs, '--until-caught-up'], scenario.env)
    await scenario.assertMatchesReference(produced)
    const parity = await runKfs(['verify-parity', '--group', `kfs-${scenario.run}`, '--json'], scenario.env)
    const [report] = JSON.parse(parity.stdout) as { ok: boolean; liveRows: number; replayRows: number; matchingRows: number }[]
    assert.ok(report, 'one parity report')
    assert.equal(report.ok, true)
    assert.ok(report.liveRows > 0, 'live rows')
    assert.equal(report.matchingRows, report.liveRows)
    assert.equal(report.replayRows, report.liveRows)
  } finally {
    await scenario.close()
  }
}
