/**
 * The online reload (engine/online-reload.ts) reads its table in passes of bounded entities: a pass
 * holds at most `maxEntitiesPerPass`, one that finds more is given up and its shard split, and the
 * passes that complete cover every entity exactly once — so the store gets each entity's latest row
 * once, whatever the bound. Over the Iceberg adapter on a memory store, and the split on its own.
 *
 * Before it the reload read the whole table through readFeatureRows (every row of every entity at
 * once) and knew no passes: over a reader with the streamed read alone it failed with a TypeError.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { userPurchases as view } from '../../../examples/features.ts'
import type { FeatureRow } from '../../../features/types.ts'
import { entityShardOf, type EntityShard, type FeatureRowReader, type LatestFeatureRows } from '../../../ports/feature-rows.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { reloadOnlineFromOffline, splitShard } from '../../../engine/online-reload.ts'
import { ForgetfulOnlineStore } from '../../support/forgetful-online-store.ts'
import { prng } from '../training/fixtures.ts'

const T0 = Date.UTC(2024, 0, 15, 10)
const NOW = T0 + 3_600_000

/** 50 entities, 2…9 rows each over three commits; every value names its row. */
async function writtenTable(): Promise<IcebergTable50> {
  const offline = new IcebergOfflineSink(new MemoryObjectStore())
  const rand = prng(7)
  const tableId = offline.tableId({ kind: 'feature', view })
  let offset = 0
  for (let c = 0; c < 3; c++) {
    const rows: OfflineFeatureRow[] = []
    for (let e = 0; e < 50; e++) {
      for (let r = rand.int(c === 0 ? 1 : 0, 3); r > 0; r--) {
        offset++
        rows.push({
          entityKey: `u${e}`,
          asOfMs: T0 + offset * 1000,
          createdAtMs: T0,
          values: view.features.map((f, i) => (f.type === 'long' ? offset : offset + i / 8)),
          origin: { partition: 0, offset: String(offset), seq: 0, marker: false },
        })
      }
    }
    await offline.commit(tableId, [await offline.stageFeatureRows(view, rows)], {}, {})
  }
  const byEntity = await offline.readFeatureRows(view)
  return {
    offline,
    latest: new Map([...byEntity].map(([k, rows]) => [k, rows.at(-1)!])),
    rows: [...byEntity.values()].reduce((n, list) => n + list.length, 0),
  }
}

interface IcebergTable50 {
  readonly offline: IcebergOfflineSink
  readonly latest: ReadonlyMap<string, FeatureRow>
  readonly rows: number
}

/** Reloads through a reader that records every pass, into a store that records every row written. */
async function reload(table: IcebergTable50, maxEntitiesPerPass?: number) {
  const passes: { shard: EntityShard; answer: LatestFeatureRows }[] = []
  const rows: Pick<FeatureRowReader, 'readLatestFeatureRows'> = {
    async readLatestFeatureRows(v, options) {
      const answer = await table.offline.readLatestFeatureRows(v, options)
      passes.push({ shard: options?.shard ?? { index: 0, of: 1 }, answer })
      return answer
    },
  }
  const online = new ForgetfulOnlineStore()
  const writes: FeatureRow[] = []
  const write = online.writeRows.bind(online)
  online.writeRows = async (v, batch) => {
    writes.push(...batch)
    return write(v, batch)
  }
  const result = await reloadOnlineFromOffline({
    view,
    online,
    rows,
    nowMs: NOW,
    batchSize: 4,
    ...(maxEntitiesPerPass === undefined ? {} : { maxEntitiesPerPass }),
  })
  return { passes, writes, result }
}

void describe('online reload in passes', () => {
  void test('at most maxEntitiesPerPass entities a pass; the completed passes cover every entity once; each written once with its latest row', async () => {
    const table = await writtenTable()
    assert.equal(table.latest.size, 50)
    for (const bound of [1, 7, 20, 49, 50]) {
      const { passes, writes, result } = await reload(table, bound)
      assert.deepStrictEqual(result, { entities: 50, written: 50, stale: 0 }, `bound ${bound}`)
      const done = passes.filter((p) => p.answer.complete)
      for (const { shard, answer } of done) {
        assert.ok(
          answer.complete && answer.rows.size <= bound,
          `bound ${bound}: shard ${shard.index} of ${shard.of} held ${answer.complete ? answer.rows.size : '?'}`,
        )
        for (const key of answer.complete ? answer.rows.keys() : []) assert.equal(entityShardOf(key, shard.of), shard.index)
      }
      assert.equal(passes.length > 1, bound < 50, `bound ${bound}: ${passes.length} passes`)
      for (const p of passes.filter((x) => !x.answer.complete))
        assert.ok(!p.answer.complete && p.answer.rowsInTable === table.rows)
      // Each entity once, with the table's latest row, stamped now.
      assert.deepStrictEqual(
        writes.map((w) => w.entityKey).sort(),
        [...table.latest.keys()].sort(),
        `bound ${bound}: each entity written once`,
      )
      for (const w of writes) assert.deepStrictEqual(w, { ...table.latest.get(w.entityKey)!, createdAtMs: NOW })
    }
    // The default bound: a table whose entities fit is read once.
    assert.equal((await reload(table)).passes.length, 1)
  })

  void test('splitShard: the parts are shards of k·n that together hold exactly the shard split, as many as the rows read say', () => {
    const rand = prng(3)
    const keys = Array.from({ length: 3_000 }, (_, i) => `k${i}·${rand.int(0, 1e9)}`)
    for (let round = 0; round < 200; round++) {
      const of = rand.int(1, 40)
      const shard = { index: rand.int(0, of - 1), of }
      const rowsInTable = rand.int(1, 10_000)
      const rowsRead = rand.int(1, rowsInTable)
      const parts = splitShard(shard, rowsRead, rowsInTable)
      assert.equal(parts.length, Math.max(2, Math.ceil(rowsInTable / rowsRead)))
      const of2 = parts[0]!.of
      assert.ok(parts.every((p) => p.of === of2 && p.index >= 0 && p.index < of2))
      for (const key of keys) {
        const inShard = entityShardOf(key, of) === shard.index
        const inParts = parts.filter((p) => entityShardOf(key, p.of) === p.index).length
        assert.equal(inParts, inShard ? 1 : 0, `${key}: shard ${shard.index} of ${of} → ${JSON.stringify(parts)}`)
      }
    }
    assert.throws(() => splitShard({ index: 5, of: 2 ** 31 + 1 }, 1, 10), /cannot be split further/)
  })
})
