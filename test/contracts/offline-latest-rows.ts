/**
 * Contract of FeatureRowReader.readLatestFeatureRows (ports/feature-rows.ts), the online reload's
 * streamed read: per entity the last row readFeatureRows gives it (a tombstone included, an as_of
 * tie to the later seq), the shards of any count together exactly every entity once, a pinned
 * snapshot read as pinned, and a pass that would hold more than `maxEntities` stops with how far it
 * got. Also readFeatureRows of an entity shard (verify-parity's passes) and featureTableStats at a
 * pinned snapshot. Run by the offline contract's unit (local, memory) and integration (MinIO) test
 * files.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import * as examples from '../../examples/features.ts'
import type { FeatureRow, FeatureViewDef } from '../../features/types.ts'
import { entityShardOf, type FeatureRowReader } from '../../ports/feature-rows.ts'
import type { OfflineFeatureRow } from '../../ports/offline.ts'
import type { OfflineContractStore, OfflineContractSubject } from './offline.ts'

const T0 = Date.UTC(2024, 0, 15, 10)
const DAY = 86_400_000
const base = examples.userClicks.features[0]!.aggregation
/** An attribute view: its rows may be tombstones (docs/design.md §11). */
const view: FeatureViewDef = {
  ...examples.userClicks,
  name: 'contract_latest',
  version: 2,
  changeMode: 'attributes',
  features: [
    { name: 'n', type: 'long', aggregation: base },
    { name: 'x', type: 'double', aggregation: base },
    { name: 'tags', type: 'string[]', aggregation: base },
  ],
}

/** `entity`'s row at `asOfMs`, emitted at `offset` (index `seq` there); values tell the rows apart. */
function row(entity: string, asOfMs: number, offset: number, seq = 0, deleted = false): OfflineFeatureRow {
  const values = deleted ? [null, null, null] : [offset * 10 + seq, offset === 4 ? -0 : offset / 4, [`o${offset}`, `s${seq}`]]
  return {
    entityKey: entity,
    asOfMs,
    createdAtMs: asOfMs + 1,
    values,
    ...(deleted ? { deleted: true as const } : {}),
    origin: { partition: 0, offset: String(offset), seq, marker: false },
  }
}

async function commit(offline: OfflineContractStore, rows: readonly OfflineFeatureRow[]): Promise<string> {
  const tableId = offline.tableId({ kind: 'feature', view })
  await offline.commit(tableId, [await offline.stageFeatureRows(view, rows)], {}, {})
  return (await offline.snapshots(tableId)).at(-1)!.snapshotId
}

/** The reference: each entity's last row of readFeatureRows. */
async function lastRows(reader: FeatureRowReader, snapshotId?: string): Promise<Map<string, FeatureRow>> {
  const byEntity = await reader.readFeatureRows(view, snapshotId === undefined ? {} : { snapshotId })
  return new Map([...byEntity].map(([k, rows]) => [k, rows.at(-1)!]))
}

/** The union of the `of` shards' answers; fails on an entity in the wrong shard or in two. */
async function allShards(reader: FeatureRowReader, of: number, snapshotId?: string): Promise<Map<string, FeatureRow>> {
  const union = new Map<string, FeatureRow>()
  for (let index = 0; index < of; index++) {
    const pass = await reader.readLatestFeatureRows(view, {
      shard: { index, of },
      ...(snapshotId === undefined ? {} : { snapshotId }),
    })
    assert.ok(pass.complete, `shard ${index} of ${of} complete`)
    for (const [key, latest] of pass.rows) {
      assert.equal(entityShardOf(key, of), index, `${key} in shard ${index} of ${of}`)
      assert.ok(!union.has(key), `${key} in one shard only`)
      union.set(key, latest)
    }
  }
  return union
}

/** Same keys, same rows (strict deep equality: Object.is on values, so −0 is not 0). */
function assertSame(actual: ReadonlyMap<string, FeatureRow>, expected: ReadonlyMap<string, FeatureRow>, what: string): void {
  assert.deepStrictEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: entities`)
  for (const [key, latest] of expected) assert.deepStrictEqual(actual.get(key), latest, `${what}: ${key}`)
}

export function runOfflineLatestRowsContract(
  name: string,
  makeSubject: () => Promise<OfflineContractSubject>,
  cleanup?: () => Promise<void>,
): void {
  void describe(`offline contract > readLatestFeatureRows > ${name}`, () => {
    after(async () => cleanup?.())

    void test('each entity: the last row readFeatureRows gives it, in every shard count; pinned snapshots; a tombstone stays one', async () => {
      const { offline, reopen } = await makeSubject()
      const entities = Array.from({ length: 12 }, (_, i) => `u${i}`)
      // Written out of archive order, over two days and two commits; u0's rows tie on as_of (seq decides),
      // u1's latest is a tombstone, u2's tombstone is followed by a row again.
      const first = [
        row('u0', T0 + 50, 7, 1),
        row('u0', T0 + 50, 7, 0),
        row('u1', T0, 2),
        row('u2', T0 + 3, 3, 0, true),
        ...entities.slice(3).map((e, i) => row(e, T0 + i, 10 + i)),
      ]
      const second = [
        row('u1', T0 + DAY, 30, 0, true),
        row('u2', T0 + DAY, 31),
        row('u0', T0 + 50, 32),
        ...entities.slice(6).map((e, i) => row(e, T0 + DAY + i, 40 + i, 2)),
      ]
      const pinned = await commit(offline, first)
      await commit(offline, second)
      const reader = reopen()
      const expected = await lastRows(reader)
      assert.equal(expected.size, entities.length)
      assert.equal(expected.get('u1')?.deleted, true, 'the reference keeps the tombstone')
      assert.deepStrictEqual(expected.get('u0')?.values, [320, 8, ['o32', 's0']], 'the later offset wins the as_of tie')
      for (let of = 1; of <= 4; of++) assertSame(await allShards(reader, of), expected, `${of} shard(s)`)
      const whole = await reader.readLatestFeatureRows(view)
      assert.ok(whole.complete)
      assertSame(whole.rows, expected, 'no shard given')
      for (let of = 1; of <= 3; of++)
        assertSame(await allShards(reader, of, pinned), await lastRows(reader, pinned), `${of} shard(s) at the first snapshot`)
    })

    void test('readFeatureRows of a shard: the shards of any count together are the whole read, each entity in its own; featureTableStats at a pinned snapshot', async () => {
      const { offline, reopen } = await makeSubject()
      const first = Array.from({ length: 24 }, (_, i) => row(`s${i % 9}`, T0 + i, i, i % 2, i % 7 === 3))
      const pinned = await commit(offline, first)
      await commit(offline, [row('s1', T0 + DAY, 50), row('s10', T0 + DAY, 51), row('s4', T0, 52)])
      const reader = reopen()
      for (const snapshotId of [undefined, pinned]) {
        const whole = await reader.readFeatureRows(view, snapshotId === undefined ? {} : { snapshotId })
        for (let of = 1; of <= 3; of++) {
          const union = new Map<string, FeatureRow[]>()
          for (let index = 0; index < of; index++) {
            for (const [key, rows] of await reader.readFeatureRows(view, {
              shard: { index, of },
              ...(snapshotId === undefined ? {} : { snapshotId }),
            })) {
              assert.equal(entityShardOf(key, of), index, `${key} in shard ${index} of ${of}`)
              assert.ok(!union.has(key), `${key} in one shard only`)
              union.set(key, rows)
            }
          }
          const sorted = (m: ReadonlyMap<string, FeatureRow[]>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)))
          assert.deepStrictEqual(sorted(union), sorted(whole), `${of} shard(s) at ${snapshotId ?? 'the current snapshot'}`)
        }
      }
      assert.equal((await reader.featureTableStats(view, { snapshotId: pinned }))?.rows, 24, 'rows at the pinned snapshot')
      assert.equal((await reader.featureTableStats(view))?.rows, 27, 'rows now')
      assert.equal(await reader.featureTableStats(view, { snapshotId: null }), undefined, 'null: no snapshot at this cut')
    })

    void test('maxEntities: a pass that would hold one more stops and says how far it got; empty and missing tables; a shard out of range rejects', async () => {
      const { offline, reopen } = await makeSubject()
      const reader = reopen()
      assert.deepStrictEqual(await reader.readLatestFeatureRows(view), { complete: true, rows: new Map() }, 'no table')
      const rows = Array.from({ length: 30 }, (_, i) => row(`e${i % 10}`, T0 + i, i))
      const id = await commit(offline, rows)
      assert.deepStrictEqual(
        await reader.readLatestFeatureRows(view, { snapshotId: null }),
        { complete: true, rows: new Map() },
        'null: no snapshot at this cut',
      )
      const exact = await reader.readLatestFeatureRows(view, { maxEntities: 10, snapshotId: id })
      assert.ok(exact.complete && exact.rows.size === 10, 'as many entities as allowed: complete')
      const over = await reader.readLatestFeatureRows(view, { maxEntities: 9 })
      assert.equal(over.complete, false)
      if (!over.complete) {
        assert.equal(over.rowsInTable, 30)
        assert.ok(over.rowsRead >= 10 && over.rowsRead <= 30, `rows read ${over.rowsRead}: at least the ten entities' first rows`)
      }
      await assert.rejects(reader.readLatestFeatureRows(view, { shard: { index: 2, of: 2 } }))
      await assert.rejects(reader.readLatestFeatureRows(view, { snapshotId: '12345' }))
    })
  })
}
