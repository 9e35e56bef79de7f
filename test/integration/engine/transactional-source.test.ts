/**
 * A source topic written by a transactional producer ends each transaction with a commit marker:
 * an offset no read-committed consumer is given. `kfs run --until-caught-up` must still see the
 * topic as read to its end (and exit), and the rows must equal the reference model.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { partitionForKey } from '../../../adapters/event-log/embedded/index.ts'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { startKfs } from '../../support/kfs-process.ts'
import { generatePurchases, waitFor, type ProducedRecord } from '../../support/scenario.ts'

void test('a transactionally produced source: kfs run --until-caught-up ends, rows equal the reference', async () => {
  const scenario = await createEngineScenario()
  try {
    const events = generatePurchases({ count: 3_000, users: 120, seed: 17 })
    const { source, log, encoder } = scenario
    // Three transactions; the last one ends the topic with a commit marker in every partition.
    for (let i = 0; i < events.length; i += 1_000) {
      const txn = await log.transaction(`kfs-it-txn-source-${randomUUID()}`)
      await txn.produce(
        source.topic,
        events.slice(i, i + 1_000).map((e) => ({ key: e.user_id, value: encoder.encode(e) })),
      )
      await txn.commit()
    }
    // Offsets as the log assigned them: per partition, each transaction's records in produce order,
    // then its commit marker (an offset no consumer is given).
    const next = new Map<number, bigint>()
    const produced: ProducedRecord[] = []
    for (let i = 0; i < events.length; i += 1_000) {
      const touched = new Set<number>()
      for (const event of events.slice(i, i + 1_000)) {
        const p = partitionForKey(event.user_id, source.partitions)
        const offset = next.get(p) ?? 0n
        produced.push({ partition: p, offset: offset.toString(), event })
        next.set(p, offset + 1n)
        touched.add(p)
      }
      for (const p of touched) next.set(p, next.get(p)! + 1n)
    }
    // A commit returns once the coordinator has decided; it writes the markers to the partitions
    // after that, so a read-committed end offset (the last stable offset) can lag for a moment.
    let ends: string[] = []
    const markersWritten = async (): Promise<boolean> => {
      ends = await log.endOffsets(source.topic)
      return [...next].every(([p, end]) => BigInt(ends[p]!) === end)
    }
    await waitFor(markersWritten, 'the commit markers of the last transaction', 30_000).catch(() => undefined)
    for (const [p, end] of next) assert.equal(BigInt(ends[p]!), end, `partition ${p} ends with a commit marker`)

    const child = startKfs([...scenario.runArgs, '--until-caught-up', '--json'], scenario.env)
    // Before the fix the run never ended: the position stayed one short of every partition's end.
    const timer = setTimeout(() => child.child.kill('SIGKILL'), 240_000)
    const run = await child.done
    clearTimeout(timer)
    assert.equal(run.code, 0, `kfs run --until-caught-up ended ${run.code ?? run.signal}: ${run.stderr.slice(-2000)}`)
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { consumed: number }
    assert.equal(summary.consumed, events.length)
    await scenario.assertMatchesReference(produced)
  } finally {
    await scenario.close()
  }
})
