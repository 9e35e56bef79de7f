/**
 * A live group meets a view it has no backfill state for (docs/semantics.md §14): the registry's one
 * status per view version says complete — another group backfilled it — and this group's
 * checkpoints lack the view on every partition, or on all of them, one before its first record. Before, each
 * partition lacking it started the view at its checkpointed position without its history: offline
 * rows missing, online counts too low. Now the view is caught up from the group's own archive;
 * its offline rows and its online row per key equal a computation over every record.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { partitionForKey } from '../../../core/murmur2.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { purchases, userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import { CheckpointStore } from '../../../engine/checkpoint-store.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { viewId } from '../../../engine/partition-slot.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import type { DeadLetterSink } from '../../../ports/dead-letters.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import {
  assertOnlineHoldsLastRows,
  assertSameRows,
  expectedRowsByEntity,
  generatePurchases,
  offlineRowsByEntity,
  produceEvents,
  waitFor,
  type ProducedRecord,
} from '../../support/scenario.ts'

const noLetters: DeadLetterSink = { write: async () => undefined, flush: async () => undefined }
const partitionOf = (e: { user_id: string }) => partitionForKey(e.user_id, purchases.partitions)

/**
 * Each case: the stretches live consumes, in turn, and the views it runs each with. The group never
 * backfills the new view; its last run always has it.
 */
const cases: {
  name: string
  stretches: { views: readonly FeatureViewDef[]; keep: (e: { user_id: string }) => boolean }[]
  /** The partitions with a checkpoint (none knows the view) when the last run starts. */
  checkpointed: number[]
}[] = [
  {
    name: 'every partition checkpointed without the view',
    stretches: [
      { views: [userPurchases], keep: () => true },
      { views: [userPurchases, userBigSpends], keep: () => true },
    ],
    checkpointed: Array.from({ length: purchases.partitions }, (_, p) => p),
  },
  {
    // The view ran before: its table holds its rows up to where the deploy without it took over, and
    // the catch-up from offset 0 must append only the rest (test/unit/engine/deploy-sequences.test.ts).
    name: 'the view dropped by a deploy, then the definitions rolled back',
    stretches: [
      { views: [userPurchases, userBigSpends], keep: () => true },
      { views: [userPurchases], keep: () => true },
      { views: [userPurchases, userBigSpends], keep: () => true },
    ],
    checkpointed: Array.from({ length: purchases.partitions }, (_, p) => p),
  },
  ...Array.from({ length: purchases.partitions }, (_, fresh) => ({
    name: `partition ${fresh} checkpointed before its first record, the others past theirs`,
    stretches: [
      { views: [userPurchases], keep: (e: { user_id: string }) => partitionOf(e) !== fresh },
      // Partition `fresh` meets the view at offset 0, the others past their records.
      { views: [userPurchases, userBigSpends], keep: () => true },
    ],
    checkpointed: Array.from({ length: purchases.partitions }, (_, p) => p),
  })),
]

for (const c of cases) {
  void test(`a group with no backfill state of a view: ${c.name}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-hand-off-without-backfill-'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    try {
      const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const store = new MemoryObjectStore()
      const online = new EmbeddedOnlineStore()
      const offline = new IcebergOfflineSink(store, { parquetWorker: false })
      const decoderFor = () => createDecoder({ registry: schemas, readerSchema: purchases.schema })
      await log.createTopic(purchases.topic, purchases.partitions)
      const encoder = await createEncoder({ registry: schemas, subject: `${purchases.topic}-value`, schema: purchases.schema })
      const events = generatePurchases({ count: 900, users: 24, seed: 33 })
      const produced: ProducedRecord[] = []
      const per = Math.floor(events.length / c.stretches.length)
      for (const [i, stretch] of c.stretches.entries()) {
        if (i === c.stretches.length - 1) await assertCheckpointed(store, c.checkpointed)
        const slice = events.slice(i * per, i === c.stretches.length - 1 ? events.length : (i + 1) * per).filter(stretch.keep)
        const batch = await produceEvents(log, purchases.topic, encoder, slice)
        produced.push(...batch)
        const engine = createLiveEngine({
          log,
          stateStore: store,
          offline,
          online,
          deadLetters: noLetters,
          decoderFor,
          views: stretch.views,
          groupId: 'canary',
          clock: systemClock,
          logger: silentLogger,
          checkpointMaxRecords: 100,
          checkpointIntervalMs: 200,
          tickMs: 20,
        })
        await engine.start()
        await waitFor(
          () => engine.failure !== undefined || engine.stats.consumed >= batch.length,
          `${batch.length} records consumed`,
        )
        await engine.stop()
        assert.equal(engine.failure, undefined)
      }

      const expected = expectedRowsByEntity([userBigSpends], purchases, produced).get(userBigSpends.name)!
      assertSameRows(await offlineRowsByEntity(store, userBigSpends), expected, `user_big_spends offline table, ${c.name}`)
      await assertOnlineHoldsLastRows(online, userBigSpends, expected)
    } finally {
      await log.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
}

/** The case is what it says: exactly `checkpointed` of the group's partitions have a checkpoint, none knowing the view. */
async function assertCheckpointed(store: MemoryObjectStore, checkpointed: readonly number[]): Promise<void> {
  const checkpoints = new CheckpointStore(store, 'canary')
  const got: number[] = []
  for (let p = 0; p < purchases.partitions; p++) {
    const latest = await checkpoints.latest(purchases.topic, p)
    if (latest === undefined) continue
    assert.equal(
      latest.views.some((v) => v.view === viewId(userBigSpends)),
      false,
      `partition ${p}'s checkpoint knows user_big_spends`,
    )
    got.push(p)
  }
  assert.deepEqual(got, checkpointed, 'partitions with a checkpoint before the view is added')
}
