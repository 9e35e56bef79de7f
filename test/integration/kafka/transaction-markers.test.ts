/**
 * Issue #20 item 3: a transaction's commit marker (and an aborted transaction's records) take
 * offsets a read-committed consumer never sees. The consumer must say so (`LogBatch.span`),
 * or the engine takes the hole for skipped records and seeks back once per marker.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/kafka-event-log.ts'
import { PlatformaticEventLog } from '../../../adapters/event-log/platformatic/index.ts'
import type { LogBatch } from '../../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { eventually } from '../../contracts/event-log.ts'
import { kafkaBrokers } from './kafka-env.ts'

const enc = (s: string) => new TextEncoder().encode(s)

const clients: [string, () => TransactionalEventLog][] = [
  ['kafka', () => new KafkaEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500 })],
  ['platformatic', () => new PlatformaticEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500 })],
]

for (const [name, makeLog] of clients) {
  void test(`${name} > a batch after markers and aborted records continues from the last record taken: no gap`, () =>
    noGapAfterMarkers(makeLog()))
}

async function noGapAfterMarkers(log: TransactionalEventLog): Promise<void> {
  const topic = `kfs-markers-${randomUUID()}`
  const batches: LogBatch[] = []
  try {
    await log.createTopic(topic, 1)
    const transact = async (values: string[], outcome: 'commit' | 'abort') => {
      const txn = await log.transaction(`kfs-markers-${randomUUID()}`)
      await txn.produce(
        topic,
        values.map((v) => ({ key: null, value: enc(v), partition: 0 })),
      )
      await (outcome === 'commit' ? txn.commit() : txn.abort())
    }
    await transact(['a', 'b'], 'commit') // offsets 0, 1; commit marker 2
    const consumer = log.consumer({ groupId: `kfs-markers-${randomUUID()}`, topics: [topic], readCommitted: true })
    await consumer.run({
      eachBatch: async (batch) => {
        batches.push(batch)
      },
    })
    // Everything of the first batch is taken, so the consumer moves past its trailing marker too.
    await eventually(() => batches.flatMap((b) => b.records).length >= 2, 'the first transaction')
    await transact(['x', 'y'], 'abort') // 3, 4 aborted; abort marker 5
    // The coordinator writes markers after EndTxn returns: under load the next transaction's records
    // could land before this marker and take offset 5 (seen at load 15), so the layout waits for it.
    for (let asks = 0; (await log.endOffsets(topic))[0] !== '6'; asks++) {
      assert.ok(asks < 3_000, 'the abort marker at offset 5 within a minute')
      await new Promise((r) => setTimeout(r, 20))
    }
    await transact(['c', 'd'], 'commit') // 6, 7; commit marker 8
    await eventually(() => batches.flatMap((b) => b.records).length >= 4, 'the second committed transaction')
    await consumer.stop()

    assert.deepEqual(
      batches.flatMap((b) => b.records.map((r) => r.offset)),
      ['0', '1', '6', '7'],
    )
    let expected = 0n
    for (const batch of batches) {
      assert.equal(
        batch.span?.from,
        expected.toString(),
        `batch at ${batch.records[0]!.offset} continues from the offset after the last record taken`,
      )
      assert.ok(BigInt(batch.span!.from) <= BigInt(batch.records[0]!.offset))
      expected = BigInt(batch.records.at(-1)!.offset) + 1n
    }
  } finally {
    await log.close()
  }
}
