/**
 * The re-key stage writes bundles (engine/rekey-bundle.ts, docs/semantics.md §16): every record of
 * the internal topic is a bundle with a null key, on the partition the log's partitioner gives each
 * of its events' keys, far fewer records than events, every keyable source record once.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { partitionForKey } from '../../../core/murmur2.ts'
import { createEngineStats } from '../../../engine/engine-stats.ts'
import { isBundle, unbundle } from '../../../engine/rekey-bundle.ts'
import { createRekeyStage, REKEY_HEADERS } from '../../../engine/rekey-stage.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { clicks } from '../../fixtures/features/rekey-scoped.ts'
import { itemClicksLog } from '../../support/item-clicks-log.ts'
import { waitFor } from '../../support/scenario.ts'

void test('the re-key stage forwards bundles: per internal partition, keyed by the partitioner, every keyable record once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-bundle-stage-'))
  try {
    const { log, registry, keyable, plan } = await itemClicksLog(dir, {
      maxBatchRecords: 400,
      count: 3_000,
      users: 50,
      items: 200,
      seed: 5,
    })
    const failures: Error[] = []
    const stage = createRekeyStage({
      log,
      plan,
      groupId: 'kfs-engine',
      decoder: createDecoder({ registry, readerSchema: clicks.schema }),
      deadLetters: { write: async () => {}, flush: async () => {} },
      stats: createEngineStats(),
      clock: systemClock,
      logger: silentLogger,
      onFatal: (err) => failures.push(err),
    })
    await stage.start()
    const ends = await log.endOffsets(clicks.topic)
    await waitFor(
      () => failures.length > 0 || [...stage.progress()].every(([p, e]) => e.position === ends[p]),
      'the topic re-keyed',
    )
    await stage.stop()
    assert.deepEqual(failures, [])

    const records: LogRecord[] = []
    const consumer = log.consumer({ groupId: 'check', topics: [plan.topic], readCommitted: true, fromBeginning: true })
    await consumer.run({ eachBatch: async (batch) => void records.push(...batch.records) })
    const internalEnds = await log.endOffsets(plan.topic)
    await waitFor(
      () => internalEnds.every((end, p) => records.some((r) => r.partition === p && BigInt(r.offset) + 2n >= BigInt(end))),
      'the internal topic read',
    )
    await consumer.stop()

    assert.ok(
      records.length > 0 && records.every((r) => isBundle(r.value) && r.key === null),
      'every internal record is a bundle',
    )
    assert.ok(records.length * 20 < keyable.length, `${records.length} records for ${keyable.length} events`)
    const origins: string[] = []
    for (const r of records) {
      const { events, malformed } = unbundle([r])
      assert.deepEqual(malformed, [])
      for (const e of events) {
        assert.equal(partitionForKey(e.key!, clicks.partitions), r.partition, "an event lies on its key's partition")
        origins.push(`${e.headers[REKEY_HEADERS.partition]}/${e.headers[REKEY_HEADERS.offset]}`)
      }
    }
    assert.deepEqual(origins.sort(), keyable.map((r) => `${r.partition}/${r.offset}`).sort(), 'every keyable source record once')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
