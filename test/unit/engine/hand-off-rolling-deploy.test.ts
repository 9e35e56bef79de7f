/**
 * A rolling deploy adds a view to a running group that never backfilled it (docs/semantics.md §14):
 * a member without the view (X) consumes every partition; a member with it (Y) joins and takes
 * some, which meet the view with checkpoints lacking it, while X checkpoints the others without it;
 * X leaves, and Y takes the others — some of its partitions' checkpoints know the view, others do
 * not. Before, each partition that met the view started it at its checkpointed position without
 * its history. Now each is caught up from the group's archive: the offline rows and the online row
 * per key equal a computation over every record.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { purchases, userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import { CheckpointStore } from '../../../engine/checkpoint-store.ts'
import { createLiveEngine, type LiveEngine } from '../../../engine/live-engine.ts'
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

void test('a rolling deploy adds a view the group never backfilled: every partition gets its history', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-hand-off-rolling-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  const engines: LiveEngine[] = []
  try {
    const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new MemoryObjectStore()
    const online = new EmbeddedOnlineStore()
    const offline = new IcebergOfflineSink(store, { parquetWorker: false })
    const decoderFor = () => createDecoder({ registry: schemas, readerSchema: purchases.schema })
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await createEncoder({ registry: schemas, subject: `${purchases.topic}-value`, schema: purchases.schema })
    const events = generatePurchases({ count: 900, users: 24, seed: 45 })
    const produced: ProducedRecord[] = []
    const produce = async (list: typeof events) =>
      void produced.push(...(await produceEvents(log, purchases.topic, encoder, list)))
    const member = async (views: readonly FeatureViewDef[]) => {
      const engine = createLiveEngine({
        log,
        stateStore: store,
        offline,
        online,
        deadLetters: noLetters,
        decoderFor,
        views,
        groupId: 'canary',
        clock: systemClock,
        logger: silentLogger,
        checkpointMaxRecords: 100,
        checkpointIntervalMs: 100,
        tickMs: 20,
      })
      engines.push(engine)
      await engine.start()
      return engine
    }
    const checkpoints = new CheckpointStore(store, 'canary')
    /** Per partition: whether its latest checkpoint is at the log's end, and whether it knows the view. */
    const cut = async () => {
      const ends = await log.endOffsets(purchases.topic)
      return Promise.all(
        ends.map(async (end, p) => {
          const latest = await checkpoints.latest(purchases.topic, p)
          return {
            atEnd: latest?.nextOffset === end,
            knows: latest?.views.some((v) => v.view === viewId(userBigSpends)) === true,
          }
        }),
      )
    }
    const noFailure = () =>
      assert.deepEqual(
        engines.map((e) => e.failure),
        engines.map(() => undefined),
      )

    const x = await member([userPurchases])
    await produce(events.slice(0, 300))
    await waitFor(async () => x.failure !== undefined || (await cut()).every((c) => c.atEnd), 'X checkpointed every partition')
    const y = await member([userPurchases, userBigSpends])
    await produce(events.slice(300, 600))
    await waitFor(async () => {
      const now = await cut()
      return (
        engines.some((e) => e.failure !== undefined) ||
        (now.every((c) => c.atEnd) && now.some((c) => c.knows) && now.some((c) => !c.knows))
      )
    }, 'X and Y each checkpointed their partitions, Y with the view')
    noFailure()
    await x.stop()
    await produce(events.slice(600))
    await waitFor(
      async () => y.failure !== undefined || (await cut()).every((c) => c.atEnd && c.knows),
      'Y checkpointed every partition with the view',
    )
    await y.stop()
    noFailure()

    const expected = expectedRowsByEntity([userBigSpends], purchases, produced).get(userBigSpends.name)!
    assertSameRows(
      await offlineRowsByEntity(store, userBigSpends),
      expected,
      'user_big_spends offline table after a rolling deploy',
    )
    await assertOnlineHoldsLastRows(online, userBigSpends, expected)
  } finally {
    for (const engine of engines) await engine.stop().catch(() => undefined)
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})
