/**
 * A partition slot restored with no checkpoint of its group over tables that hold a commit of the
 * partition is refused (engine/fresh-start-guard.ts, docs/semantics.md §14): for every writer — a
 * live slot (archive and feature table), a backfill's slot (its view's table only) — whichever
 * group committed the tables. Before, it started at offset 0 and wrote every record and row again.
 * A start racing another writer's first checkpoint (the checkpoints listed empty, then the tables
 * found committed) resumes from the record the commit followed. A first start, a partition whose
 * neighbour alone is committed, and verify-parity's scratch slot still start at offset 0. A start
 * refused on several partitions names every one in one error (it used to stop at the first).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { CheckpointStore, type PartitionCheckpoint } from '../../../engine/checkpoint-store.ts'
import { PartitionSlot } from '../../../engine/partition-slot.ts'
import { backfillView } from '../../../replay/backfill.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { SourceRecord } from '../../../ports/source.ts'
import { createDecoder, type Decoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { generatePurchases } from '../../support/scenario.ts'

const fastClock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }
const N = 40

/** The checkpoints of a group as another writer's first publish races this start: the first listing is empty. */
class ListedBeforePublish extends CheckpointStore {
  #calls = 0
  override async latest(topic: string, partition: number): Promise<PartitionCheckpoint | undefined> {
    return this.#calls++ === 0 ? undefined : super.latest(topic, partition)
  }
}

interface World {
  readonly store: MemoryObjectStore
  readonly offline: IcebergOfflineSink
  readonly decoder: Decoder
  records(partition: number): SourceRecord[]
  restore(
    group: string | CheckpointStore,
    at: { partition?: number; archive: boolean; scratch?: boolean },
  ): Promise<PartitionSlot>
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-fresh-guard-'))
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
    const events = generatePurchases({ count: N, users: 10, seed: 3 })
    const store = new MemoryObjectStore()
    const offline = new IcebergOfflineSink(store, { clock: fastClock })
    const decoder = createDecoder({ registry, readerSchema: purchases.schema })
    const w: World = {
      store,
      offline,
      decoder,
      records: (partition) =>
        events.map((e, i) => ({
          topic: purchases.topic,
          partition,
          offset: String(i),
          key: Buffer.from(e.user_id),
          value: encoder.encode(e),
          timestampMs: e.ts,
          headers: {},
        })),
      restore: (group, at) =>
        PartitionSlot.restore(
          {
            topic: purchases.topic,
            partition: at.partition ?? 0,
            source: purchases,
            views: [userPurchases],
            decoder,
            archive: at.archive,
            ...(at.scratch ? { scratch: true } : {}),
          },
          {
            offline,
            checkpoints: typeof group === 'string' ? new CheckpointStore(store, group) : group,
            clock: fastClock,
            logger: silentLogger,
          },
        ),
    }
    await body(w)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Group `group` writes partition `partition` once, checkpointed; its checkpoints are then deleted unless `keep`. */
async function written(w: World, group: string, at: { partition?: number; archive: boolean; keep?: boolean }): Promise<void> {
  const slot = await w.restore(group, at)
  await slot.processRecords(w.records(at.partition ?? 0), 0)
  assert.equal(await slot.checkpoint(), true)
  if (at.keep === true) return
  for (const key of await w.store.list(`checkpoints/${encodeURIComponent(group)}/`)) await w.store.delete(key)
}

async function refused(start: Promise<unknown>, patterns: readonly RegExp[]): Promise<void> {
  await assert.rejects(start, (err: unknown) => {
    assert.ok(err instanceof FeatureStoreError, String(err))
    assert.equal(err.code, 'INVARIANT_VIOLATED')
    for (const p of patterns) assert.match(err.message, p)
    return true
  })
}

const ARCHIVE = /the archive table of purchases \([^)]+\): committed by group g through offset 40/
const TABLE = (group: string) =>
  new RegExp(
    `the feature table of user_purchases@1 \\([^)]+\\): committed by group ${group.replace(/[.@]/g, '\\$&')} through offset 40`,
  )

void describe('engine > a partition with no checkpoint over tables that hold it', () => {
  void test('a live slot whose group’s checkpoints were deleted: archive and feature table named', () =>
    withWorld(async (w) => {
      await written(w, 'g', { archive: true })
      await refused(w.restore('g', { archive: true }), [
        /^purchases\/0: group g has no checkpoint of this partition, but these tables hold/,
        ARCHIVE,
        TABLE('g'),
        /Restore the group's checkpoints \(checkpoints\/g\/purchases\/0\/ in the store\)/,
      ])
    }))

  void test('another live group over tables the first committed', () =>
    withWorld(async (w) => {
      await written(w, 'g', { archive: true })
      await refused(w.restore('h', { archive: true }), [/group h has no checkpoint/, ARCHIVE, TABLE('g')])
    }))

  void test('a backfill’s slot whose checkpoints were deleted: its view’s table named', () =>
    withWorld(async (w) => {
      const group = 'g.backfill.user_purchases@1'
      await written(w, group, { archive: false })
      await refused(w.restore(group, { archive: false }), [/this table holds its records already — /, TABLE(group)])
    }))

  void test('a backfill’s slot over a table the live group committed', () =>
    withWorld(async (w) => {
      await written(w, 'g', { archive: true, keep: true })
      await refused(w.restore('g.backfill.user_purchases@1', { archive: false }), [TABLE('g')])
    }))

  void test('a start that listed no checkpoint before another writer’s first publish resumes from it', () =>
    withWorld(async (w) => {
      await written(w, 'g', { archive: true, keep: true })
      const slot = await w.restore(new ListedBeforePublish(w.store, 'g'), { archive: true })
      assert.equal(slot.nextOffset, String(N))
    }))

  void test('a backfill refused on several partitions: one error names every one', () =>
    withWorld(async (w) => {
      // Partition 1: the backfill's own checkpoint (it resumes, and is not named); 0 and 2: the live group's commits only.
      await written(w, 'g.backfill.user_purchases@1', { archive: false, partition: 1, keep: true })
      for (const partition of [0, 2]) await written(w, 'g', { archive: true, partition, keep: true })
      const backfill = backfillView({
        offline: w.offline,
        stateStore: w.store,
        decoder: w.decoder,
        view: userPurchases,
        liveGroupId: 'g',
        deadLetters: { write: async () => undefined, flush: async () => undefined },
        clock: fastClock,
        logger: silentLogger,
      })
      await assert.rejects(backfill, (err: unknown) => {
        assert.ok(err instanceof FeatureStoreError, String(err))
        assert.equal(err.code, 'INVARIANT_VIOLATED')
        assert.match(
          err.message,
          /^group g\.backfill\.user_purchases@1 has no checkpoint of 2 partitions whose tables hold their records already:\n/,
        )
        for (const partition of [0, 2]) {
          const line = `\\npurchases/${partition} — the feature table of user_purchases@1 \\([^)]+\\): committed by group g through offset 40;\\n`
          assert.match(err.message, new RegExp(line))
        }
        assert.doesNotMatch(err.message, /purchases\/1 /)
        assert.match(
          err.message,
          /\(checkpoints\/g\.backfill\.user_purchases%401\/purchases\/0\/, checkpoints\/g\.backfill\.user_purchases%401\/purchases\/2\/ in the store\)/,
        )
        assert.equal(err.context?.partitions, 'purchases/0, purchases/2')
        return true
      })
    }))

  void test('still at offset 0: a first start, a partition whose neighbour alone is committed, a scratch slot', () =>
    withWorld(async (w) => {
      assert.equal((await w.restore('g', { archive: true })).nextOffset, '0')
      await written(w, 'g', { archive: true, partition: 1 })
      assert.equal((await w.restore('g', { archive: true })).nextOffset, '0')
      await written(w, 'g', { archive: true })
      assert.equal((await w.restore('g', { archive: false, scratch: true })).nextOffset, '0')
    }))
})
