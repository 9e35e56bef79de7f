/**
 * The streamed latest-row read of a feature table (adapters/offline/iceberg/latest-feature-rows.ts)
 * over tables written directly — what the engine's writer never writes but a table may hold: null
 * seqs (a table written by someone else or an older kfs), rows equal in seq and as_of, seqs out of
 * as_of order — and the bound on what a pass holds.
 *
 * Before it, the reload read the whole table (readFeatureRowsByEntity), and that threw on the first
 * null seq (`BigInt(null)`): the null-seq test failed with a TypeError, the property test too.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef, StampedRow } from '../../../features/types.ts'
import { entityShardOf } from '../../../ports/feature-rows.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { appendFiles } from '../../../adapters/offline/iceberg/append-files.ts'
import { writeDataFiles } from '../../../adapters/offline/iceberg/data-file-writer.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { createTable, type IcebergTable } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { readLatestFeatureRowsOf, type LatestRowsProgress } from '../../../adapters/offline/iceberg/latest-feature-rows.ts'
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
  name: 'latest_rows',
  version: 1,
  changeMode: 'attributes',
  features: [
    { name: 'n', type: 'long', aggregation: base },
    { name: 'x', type: 'double', aggregation: base },
    { name: 'tags', type: 'string[]', aggregation: base },
  ],
}

interface Written {
  readonly row: StampedRow
  readonly seq: bigint | null
}

async function newTable(store: MemoryObjectStore): Promise<IcebergTable> {
  const schema = featureTableSchema(view)
  return createTable(store, featureTablePath(view), { schema, partitionSpec: featureTablePartitionSpec(schema) })
}

/** Appends the rows as one snapshot (a file per as_of day, row groups of `rowGroupRows`); its id. */
async function append(
  table: IcebergTable,
  rows: readonly Written[],
  rowGroupRows: number,
): Promise<{ table: IcebergTable; snapshotId: string }> {
  const files = await writeDataFiles(
    table,
    rows.map((w) => featureRowToTableRow(view, w.row, w.seq ?? undefined)),
    { rowGroupRows, parquetWorker: false },
  )
  const result = await appendFiles(table, files)
  return { table: result.table, snapshotId: String(result.snapshotId) }
}

/** The reference: each entity's last row of readFeatureRows. */
async function lastRows(store: MemoryObjectStore, snapshotId?: string): Promise<Map<string, FeatureRow>> {
  return new Map([...(await readFeatureRowsByEntity(store, view, snapshotId))].map(([k, rows]) => [k, rows.at(-1)!]))
}

/** Same keys, same rows; deepStrictEqual compares values with Object.is (−0 is not 0, NaN is NaN). */
function assertSame(actual: ReadonlyMap<string, FeatureRow>, expected: ReadonlyMap<string, FeatureRow>, what: string): void {
  assert.deepStrictEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: entities`)
  for (const [key, latest] of expected) assert.deepStrictEqual(actual.get(key), latest, `${what}: ${key}`)
}

const DOUBLES = [0, -0, 1.5, -2.25, Number.NaN, 1e300]

function randomRows(rand: ReturnType<typeof prng>, entities: number, count: number): Written[] {
  return Array.from({ length: count }, (): Written => {
    const entityKey = `e${rand.int(0, entities - 1)}`
    // Few as_of values and seqs, so ties on each and on both are common; days make several files.
    const asOfMs = T0 + rand.int(0, 3) * (DAY / 2)
    const seq = rand.next() < 0.25 ? null : BigInt(rand.int(0, 3)) * 2n ** 21n + BigInt(rand.int(0, 1))
    const deleted = rand.next() < 0.15
    const values: FeatureValue[] = deleted
      ? [null, null, null]
      : [rand.next() < 0.1 ? null : rand.int(-5, 2 ** 40), rand.pick(DOUBLES), rand.next() < 0.2 ? null : [`t${rand.int(0, 9)}`]]
    return { row: { entityKey, asOfMs, createdAtMs: asOfMs + 1, values, ...(deleted ? { deleted: true as const } : {}) }, seq }
  })
}

void describe('latest feature rows, streamed (iceberg)', () => {
  void test('property: every shard count 1…4, the shards together equal the last row of readFeatureRows per entity, at every snapshot', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(seed)
      const store = new MemoryObjectStore()
      let table = await newTable(store)
      const entities = rand.int(1, 30)
      const snapshots: string[] = []
      for (let c = rand.int(1, 4); c > 0; c--) {
        const appended = await append(table, randomRows(rand, entities, rand.int(1, 40)), rand.int(1, 6))
        table = appended.table
        snapshots.push(appended.snapshotId)
      }
      for (const snapshotId of [undefined, snapshots[0]!]) {
        const expected = await lastRows(store, snapshotId)
        for (let of = 1; of <= 4; of++) {
          const union = new Map<string, FeatureRow>()
          for (let index = 0; index < of; index++) {
            const pass = await readLatestFeatureRowsOf(store, view, {
              shard: { index, of },
              ...(snapshotId === undefined ? {} : { snapshotId }),
            })
            assert.ok(pass.complete)
            for (const [key, latest] of pass.rows) {
              assert.equal(entityShardOf(key, of), index, `seed ${seed}: ${key} read in shard ${index} of ${of}`)
              assert.ok(!union.has(key))
              union.set(key, latest)
            }
          }
          assertSame(union, expected, `seed ${seed}, snapshot ${snapshotId ?? 'current'}, ${of} shard(s)`)
        }
      }
    }
  })

  void test('a null seq orders before every other seq; null-seq rows by as_of, then as the file holds them; rows equal in both: the later one', async () => {
    const store = new MemoryObjectStore()
    const at = (asOfMs: number, n: number, seq: bigint | null): Written => ({
      row: { entityKey: 'a', asOfMs: T0 + asOfMs, createdAtMs: T0, values: [n, 0.5, null] },
      seq,
    })
    // One day, one row group: the file holds the rows as written.
    const rows = [at(10, 1, 5n), at(20, 2, null), at(15, 3, null), at(30, 4, 3n), at(10, 5, 5n), at(15, 6, null)]
    await append(await newTable(store), rows, 100)
    const read = await readFeatureRowsByEntity(store, view)
    assert.deepStrictEqual(
      read.get('a')?.map((r) => r.values[0]),
      [3, 6, 2, 4, 1, 5],
    )
    const latest = await readLatestFeatureRowsOf(store, view)
    assert.ok(latest.complete)
    assert.deepStrictEqual(latest.rows.get('a')?.values, [5, 0.5, null])
  })

  void test('a pass holds one row per entity of its shard only, never more entities than the largest shard has; maxEntities stops it', async () => {
    const store = new MemoryObjectStore()
    let table = await newTable(store)
    // 40 entities, 8 rows each, over 4 commits of 2 days each and row groups of 5: many batches.
    for (let c = 0; c < 4; c++) {
      const rows: Written[] = []
      for (let r = 0; r < 2; r++)
        for (let e = 0; e < 40; e++)
          rows.push({
            row: { entityKey: `k${e}`, asOfMs: T0 + (c * 2 + r) * DAY, createdAtMs: T0, values: [c, r, null] },
            seq: BigInt(c * 100 + r),
          })
      table = (await append(table, rows, 5)).table
    }
    const order: string[] = []
    for await (const raw of readRows(table)) order.push(raw.entity_key as string)
    assert.equal(order.length, 320)
    for (let of = 1; of <= 4; of++) {
      const counts = Array.from({ length: of }, (_, index) => new Set(order.filter((k) => entityShardOf(k, of) === index)).size)
      const largest = Math.max(...counts)
      for (let index = 0; index < of; index++) {
        const seen: LatestRowsProgress[] = []
        const pass = await readLatestFeatureRowsOf(store, view, { shard: { index, of } }, (p) => seen.push(p))
        assert.ok(pass.complete && pass.rows.size === counts[index])
        assert.ok(seen.length >= 320 / 5, `${seen.length} batches: read a batch at a time`)
        for (const p of seen) {
          // Exactly the shard's entities among the rows read so far: one row each, none of another shard.
          const held = new Set(order.slice(0, p.rowsRead).filter((k) => entityShardOf(k, of) === index)).size
          assert.equal(p.entitiesHeld, held, `shard ${index} of ${of} after ${p.rowsRead} rows`)
          assert.ok(p.entitiesHeld <= largest)
        }
      }
      const stopped = await readLatestFeatureRowsOf(store, view, { shard: { index: 0, of }, maxEntities: counts[0]! - 1 })
      assert.deepStrictEqual(stopped.complete, false, `shard 0 of ${of} holds ${counts[0]} entities`)
    }
  })
})
