/**
 * A feature table's stats read by a long-lived sink (`kfs serve`'s catalog asks every 15 s while a
 * page is open): each call reads only the manifests its previous call did not list — manifests are
 * immutable — instead of decoding every data file's entry of the table again, a file per
 * checkpoint per partition. Checked on a random sequence of commits (spread over days, with
 * nulls), compactions and snapshot expiries, with manifest merges: after every step the cached
 * stats equal those a fresh sink computes, and the call read exactly the manifests that were new.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { manifestsOf } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { currentSnapshot } from '../../../adapters/offline/iceberg/table-metadata.ts'
import type { FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'
import { prng } from '../../../examples/generate-events.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 5, 10)
/** Enough commits for the table to merge its manifests (at 100) more than once. */
const STEPS = 230

const base = examples.userClicks.features[0]!.aggregation
const view: FeatureViewDef = {
  ...examples.userClicks,
  name: 'stats_view',
  version: 1,
  features: (['long', 'double', 'string', 'long[]'] as const).map((type, i) => ({ name: `f${i}`, type, aggregation: base })),
}

/** Whole numbers below `n`, from the examples' seeded generator: the same sequence on every run. */
function random(seed: number): (n: number) => number {
  const next = prng(seed)
  return (n) => Math.floor(next() * n)
}

/** Counts the GETs of manifests (`…-m<n>.avro`; manifest lists are `snap-….avro`). */
class ManifestGets extends MemoryObjectStore {
  readonly read: string[] = []

  override async get(key: string): Promise<Uint8Array | undefined> {
    if (/-m\d\.avro$/.test(key)) this.read.push(key)
    return super.get(key)
  }
}

function rowsOf(rnd: (n: number) => number, step: number): OfflineFeatureRow[] {
  return Array.from({ length: 1 + rnd(4) }, (_, i) => {
    const n = step * 10 + i
    const values: FeatureValue[] = [rnd(3) === 0 ? null : n, rnd(4) === 0 ? null : n / 8, rnd(2) === 0 ? null : `v${n}`, [n]]
    const asOfMs = T0 + rnd(4) * DAY + n
    return {
      entityKey: `u${rnd(9)}`,
      asOfMs,
      createdAtMs: asOfMs,
      values,
      origin: { partition: 0, offset: String(step), seq: i, marker: false },
    }
  })
}

void describe('feature table stats of a long-lived sink', () => {
  void test('read only the manifests new since the last call, and equal a fresh reading', async () => {
    const store = new ManifestGets()
    const serving = new IcebergOfflineSink(store, { parquetWorker: false })
    const writer = new IcebergOfflineSink(store, { parquetWorker: false })
    const tableId = writer.tableId({ kind: 'feature', view })
    const rnd = random(0x5eed135)
    let listedBefore = new Set<string>()
    const happened = { compactions: 0, expiries: 0, merges: 0 }
    for (let step = 0; step < STEPS; step++) {
      const pick = rnd(40)
      if (pick === 0 && step > 20) {
        const { removedFiles } = await writer.compactFeatureTable(view, { olderThanDay: Math.floor(T0 / DAY) + 1 + rnd(3) })
        if (removedFiles > 0) happened.compactions++
      } else if (pick === 1 && step > 20) {
        const { expiredSnapshots } = await writer.expireSnapshots(
          { kind: 'feature', view },
          { maxAgeMs: 0, minSnapshots: 1 + rnd(5) },
        )
        if (expiredSnapshots > 0) happened.expiries++
      } else {
        await writer.commit(tableId, [await writer.stageFeatureRows(view, rowsOf(rnd, step))], { [`g/t/0`]: step + 1 }, {})
      }
      if (rnd(3) !== 0 && step !== STEPS - 1) continue // the catalog asks now and then, not after every commit

      const table = await loadTable(store, tableId)
      const listed = new Set((await manifestsOf(table, currentSnapshot(table.metadata))).map((m) => m.manifestPath))
      if ([...listed].some((m) => m.endsWith('-m2.avro'))) happened.merges++
      store.read.length = 0
      const stats = await serving.featureTableStats(view)
      const read = store.read.map((key) => store.uriOf(key))
      const fresh = await new IcebergOfflineSink(store, { parquetWorker: false }).featureTableStats(view)
      assert.deepEqual(stats, fresh, `step ${step}: the stats a fresh sink reads`)
      const added = [...listed].filter((m) => !listedBefore.has(m)).sort()
      assert.deepEqual(
        read.sort(),
        added,
        `step ${step}: read ${read.length} manifests of ${listed.size}, the new ones are ${added.length}`,
      )
      listedBefore = listed
    }
    assert.ok(
      happened.compactions > 0 && happened.expiries > 0 && happened.merges > 0,
      `the sequence compacted, expired and merged: ${JSON.stringify(happened)}`,
    )
  })
})
