/**
 * A partition the backfill's archive snapshot held no record of (docs/semantics.md §14): live
 * archives records of it afterwards — `kfs replay` beside a running `kfs run`, a --snapshot-id, a
 * first checkpoint whose archive commit was pending — and the hand-off must catch the view up over
 * them from the archive. Before, the view started there empty at the live position and skipped
 * them: its offline table lacked every row of that partition's stretch. Each partition in turn is
 * the one the snapshot does not hold.
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
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import type { DeadLetterSink } from '../../../ports/dead-letters.ts'
import type { BackfillStatus } from '../../../registry/index.ts'
import { settleBackfills, type BackfillRegistry } from '../../../replay/backfill-before-live.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import {
  assertSameRows,
  expectedRowsByEntity,
  generatePurchases,
  offlineRowsByEntity,
  produceEvents,
  waitFor,
  type ProducedRecord,
} from '../../support/scenario.ts'

const noLetters: DeadLetterSink = { write: async () => undefined, flush: async () => undefined }

for (let empty = 0; empty < purchases.partitions; empty++) {
  void test(`backfill hand-off: partition ${empty}, which the backfill's snapshot held no record of, is caught up from the archive`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-empty-partition-'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    try {
      const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const store = new MemoryObjectStore()
      const online = new EmbeddedOnlineStore()
      const offline = new IcebergOfflineSink(store, { parquetWorker: false })
      const decoderFor = () => createDecoder({ registry: schemas, readerSchema: purchases.schema })
      await log.createTopic(purchases.topic, purchases.partitions)
      const encoder = await createEncoder({ registry: schemas, subject: `${purchases.topic}-value`, schema: purchases.schema })
      const events = generatePurchases({ count: 900, users: 24, seed: 21 })
      const produced: ProducedRecord[] = []
      const produce = async (list: typeof events) => {
        const batch = await produceEvents(log, purchases.topic, encoder, list)
        produced.push(...batch)
        return batch.length
      }
      const run = async (views: readonly FeatureViewDef[], count: number) => {
        const engine = createLiveEngine({
          log,
          stateStore: store,
          offline,
          online,
          deadLetters: noLetters,
          decoderFor,
          views,
          groupId: 'kfs-engine',
          clock: systemClock,
          logger: silentLogger,
          checkpointMaxRecords: 300,
          checkpointIntervalMs: 200,
          tickMs: 20,
        })
        await engine.start()
        await waitFor(() => engine.failure !== undefined || engine.stats.consumed >= count, `${count} records consumed`)
        await engine.stop()
        assert.equal(engine.failure, undefined)
      }

      // 1. Live archives a first stretch with no record of partition `empty`.
      await run(
        [userPurchases],
        await produce(events.slice(0, 300).filter((e) => partitionForKey(e.user_id, purchases.partitions) !== empty)),
      )
      // 2. The new view is backfilled from that archive: complete through the other partitions only.
      const statuses = new Map<string, BackfillStatus>()
      const registry: BackfillRegistry = {
        getBackfillStatus: async (view, version) => statuses.get(`${view}@${version}`),
        setBackfillStatus: async (view, version, status) =>
          void statuses.set(`${view}@${version}`, { completeThrough: [], updatedAtMs: 0, ...status }),
      }
      const env = {
        offline,
        stateStore: store,
        decoderFor,
        clock: systemClock,
        online: async () => online,
        deadLetters: async () => noLetters,
      }
      await settleBackfills([userBigSpends], registry, env, 'kfs-engine', silentLogger, () => {})
      const through = statuses.get(`${userBigSpends.name}@${userBigSpends.version}`)?.completeThrough.map((o) => o.partition)
      assert.ok(
        through !== undefined && !through.includes(empty),
        `the backfill covered partitions ${String(through)}, not ${empty}`,
      )
      // 3. Live runs on without the view: partition `empty` gets archived records.
      await run([userPurchases], await produce(events.slice(300, 600)))
      // 4. Both views live: the hand-off catches partition `empty` up from the start of its archive.
      await run([userPurchases, userBigSpends], await produce(events.slice(600)))

      const expected = expectedRowsByEntity([userBigSpends], purchases, produced).get(userBigSpends.name)!
      assertSameRows(
        await offlineRowsByEntity(store, userBigSpends),
        expected,
        `user_big_spends offline table, partition ${empty} empty at the backfill`,
      )
      const parity = await verifyParity({
        offline,
        decoder: decoderFor(),
        view: userBigSpends,
        groupId: 'kfs-engine',
        scratch: new MemoryObjectStore(),
      })
      assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    } finally {
      await log.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
}
