/**
 * readFeatureRows of one entity shard (adapters/offline/iceberg/feature-rows.ts), what verify-parity
 * reads a pass at a time: over seeded tables (null seqs, seq and as_of ties, tombstones, several
 * files, row groups and commits), the shards of any count together give exactly the whole read's
 * lists, each entity in its own shard only; a read holds, after each batch, exactly the rows of its
 * shard read so far (the filter applied while streaming, not to a whole read); and the table's row
 * count at a pinned snapshot (featureTableStats), by which verify-parity sizes its passes.
 *
 * On the old code the shard was ignored (every shard read the whole table: an entity in several
 * shards), no batch was observed, and the stats counted the current snapshot's rows whatever the pin.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import { entityShardOf } from '../../../ports/feature-rows.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { appendFiles } from '../../../adapters/offline/iceberg/append-files.ts'
import { writeDataFiles } from '../../../adapters/offline/iceberg/data-file-writer.ts'
import {
  featureTableStatsOf,
  readFeatureRowsByEntity,
  type FeatureRowsProgress,
} from '../../../adapters/offline/iceberg/feature-rows.ts'
import { createTable, type IcebergTable } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import {
  featureRowToTableRow,
  featureTablePartitionSpec,
  featureTableSchema,
} from '../../../adapters/offline/iceberg/table-schemas.ts'
import { featureTablePath } from '../../../adapters/offline/iceberg/table-paths.ts'
import { readRows } from '../../../adapters/offline/iceberg/table-reader.ts'
import { prng } from '../training/fixtures.ts'

const T0 = Date.UTC(2024, 0, 15, 10)
const DAY = 86_400_000
const base = examples.userClicks.features[0]!.aggregation
const view: FeatureViewDef = {
  ...examples.userClicks,
  name: 'shard_rows',
  version: 1,
  changeMode: 'attributes',
  features: [
    { name: 'n', type: 'long', aggregation: base },
    { name: 'x', type: 'double', aggregation: base },
    { name: 'tags', type: 'string[]', aggregation: base },
  ],
}
const DOUBLES = [0, -0, 1.5, -2.25, Number.NaN, 1e300]

async function append(
  table: IcebergTable,
  rand: ReturnType<typeof prng>,
  entities: number,
  count: number,
): Promise<{ table: IcebergTable; snapshotId: string }> {
  const rows = Array.from({ length: count }, () => {
    const entityKey = `e${rand.int(0, entities - 1)}`
    const asOfMs = T0 + rand.int(0, 3) * (DAY / 2)
    const seq = rand.next() < 0.25 ? undefined : BigInt(rand.int(0, 3)) * 2n ** 21n + BigInt(rand.int(0, 1))
    const deleted = rand.next() < 0.15
    const values: FeatureValue[] = deleted
      ? [null, null, null]
      : [rand.int(-5, 2 ** 40), rand.pick(DOUBLES), rand.next() < 0.2 ? null : [`t${rand.int(0, 9)}`]]
    return featureRowToTableRow(
      view,
      { entityKey, asOfMs, createdAtMs: asOfMs + 1, values, ...(deleted ? { deleted: true as const } : {}) },
      seq,
    )
  })
  const result = await appendFiles(
    table,
    await writeDataFiles(table, rows, { rowGroupRows: rand.int(1, 6), parquetWorker: false }),
  )
  return { table: result.table, snapshotId: String(result.snapshotId) }
}

void describe('feature rows of an entity shard (iceberg)', () => {
  void test('property: shards 1…5 together are the whole read, each entity in its shard; a read holds its shard’s rows read so far, batch by batch', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rand = prng(seed)
      const store = new MemoryObjectStore()
      const schema = featureTableSchema(view)
      let table = await createTable(store, featureTablePath(view), { schema, partitionSpec: featureTablePartitionSpec(schema) })
      const entities = rand.int(1, 30)
      const snapshots: string[] = []
      for (let c = rand.int(1, 4); c > 0; c--) {
        const appended = await append(table, rand, entities, rand.int(1, 50))
        table = appended.table
        snapshots.push(appended.snapshotId)
      }
      for (const snapshotId of [undefined, snapshots[0]!]) {
        const whole = await readFeatureRowsByEntity(store, view, snapshotId)
        const order: string[] = []
        for await (const raw of readRows(table, snapshotId === undefined ? {} : { snapshotId: BigInt(snapshotId) }))
          order.push(raw.entity_key as string)
        for (let of = 1; of <= 5; of++) {
          const union = new Map<string, FeatureRow[]>()
          for (let index = 0; index < of; index++) {
            const seen: FeatureRowsProgress[] = []
            const read = await readFeatureRowsByEntity(store, view, snapshotId, {
              shard: { index, of },
              observe: (p) => seen.push(p),
            })
            for (const [key, rows] of read) {
              assert.equal(entityShardOf(key, of), index, `seed ${seed}: ${key} in shard ${index} of ${of}`)
              assert.ok(!union.has(key), `seed ${seed}: ${key} in one shard only`)
              union.set(key, rows)
            }
            assert.ok(
              seen.length > 0 && seen.at(-1)!.rowsRead === order.length,
              `seed ${seed}: every row read, a batch at a time`,
            )
            for (const p of seen)
              assert.equal(
                p.rowsHeld,
                order.slice(0, p.rowsRead).filter((k) => entityShardOf(k, of) === index).length,
                `seed ${seed}: shard ${index} of ${of} after ${p.rowsRead} rows`,
              )
          }
          // deepStrictEqual: Object.is on values (−0, NaN), and the lists in the whole read's order.
          assert.deepStrictEqual(
            new Map([...union].sort(([a], [b]) => (a < b ? -1 : 1))),
            new Map([...whole].sort(([a], [b]) => (a < b ? -1 : 1))),
            `seed ${seed}, ${of} shard(s)`,
          )
        }
      }
      const rowsAt = async (snapshotId: string) =>
        [...(await readFeatureRowsByEntity(store, view, snapshotId)).values()].reduce((n, r) => n + r.length, 0)
      for (const snapshotId of snapshots)
        assert.equal(
          (await featureTableStatsOf(store, view, undefined, snapshotId))?.rows,
          await rowsAt(snapshotId),
          `seed ${seed}: rows at ${snapshotId}`,
        )
      assert.equal((await featureTableStatsOf(store, view))?.rows, await rowsAt(snapshots.at(-1)!), `seed ${seed}: rows now`)
      assert.equal(await featureTableStatsOf(store, view, undefined, null), undefined, 'null: no snapshot at this cut')
      await assert.rejects(readFeatureRowsByEntity(store, view, undefined, { shard: { index: 3, of: 3 } }), RangeError)
    }
  })
})
