/**
 * verify-parity in entity-shard passes (replay/verify-parity.ts): whatever the number of passes a
 * row budget forces (1, 2, 3, 7), the report is the one-pass report — counts, entities and the
 * differences list in its order (sorted entity keys, then index), cut at maxDifferences — over
 * seeded archives, on a matching table and on tables with a changed value, a missing row, an extra
 * row, a −0 for a 0 and a NaN; and a pass holds only its shard's rows, live and replayed.
 *
 * On the old code verifyParity knew no `rowsPerPass` nor `observePass`: the bound test failed (no
 * pass observed, and the one readFeatureRows call returned the whole table); a merge of the shards'
 * differences without the final sort, or cut per shard only, fails the property test.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import type { FeatureRow } from '../../../features/types.ts'
import { entityShardOf } from '../../../ports/feature-rows.ts'
import type { ArchiveRow, OfflineFeatureRow } from '../../../ports/offline.ts'
import { verifyParity, type ParityPass, type ParityReport } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { generatePurchases } from '../../support/scenario.ts'
import { prng } from '../training/fixtures.ts'

const schemaDir = mkdtempSync(join(tmpdir(), 'kfs-parity-passes-'))
after(() => rmSync(schemaDir, { recursive: true, force: true }))
const schemas = new EmbeddedSchemaRegistry({ dir: schemaDir })
const decoder = createDecoder({ registry: schemas, readerSchema: purchases.schema })
const TOPIC = purchases.topic
const view = userPurchases
const featureTable = (sink: IcebergOfflineSink) => sink.tableId({ kind: 'feature', view })

/**
 * A seeded archive of one or two partitions (an entity's events in one), committed by group g, with
 * one event of amount 0 (its user's first: the sums of its row are 0). Returns the sink to commit
 * live rows to.
 */
async function archive(seed: number): Promise<{ sink: IcebergOfflineSink; partitions: number }> {
  const rng = prng(seed)
  const rand = () => rng.next()
  const partitions = 1 + Math.floor(rand() * 2)
  const events = generatePurchases({ count: 80 + Math.floor(rand() * 120), users: 5 + Math.floor(rand() * 30), seed })
  // Its time no earlier than the events before it: not dropped as late.
  const at = Math.floor(rand() * events.length)
  events.splice(at, 0, { ...events[at]!, user_id: 'zero', amount: 0, ts: Math.max(...events.slice(0, at + 1).map((e) => e.ts)) })
  const sink = new IcebergOfflineSink(new MemoryObjectStore(), { parquetWorker: false })
  const encoder = await createEncoder({ registry: schemas, subject: `${TOPIC}-value`, schema: purchases.schema })
  const byPartition: ArchiveRow[][] = Array.from({ length: partitions }, () => [])
  for (const e of events) {
    const rows = byPartition[entityShardOf(e.user_id, partitions)]!
    rows.push({
      partition: entityShardOf(e.user_id, partitions),
      offset: String(rows.length),
      eventTimeMs: e.ts,
      key: new TextEncoder().encode(e.user_id),
      schemaId: 1,
      payload: encoder.encode(e),
      markerWatermarkMs: null,
      timestampMs: e.ts,
    })
  }
  const markers = Object.fromEntries(byPartition.map((_, p) => [`g/${TOPIC}/${p}`, 1]))
  const staged = await Promise.all(byPartition.filter((r) => r.length > 0).map((rows) => sink.stageArchiveRows(TOPIC, rows)))
  await sink.commit(sink.tableId({ kind: 'archive', topic: TOPIC }), staged, markers, {})
  return { sink, partitions }
}

/** Commits `rows` (each entity's in archive order) as the live table's snapshot at the group's markers. */
async function commitLive(sink: IcebergOfflineSink, partitions: number, rows: readonly FeatureRow[]): Promise<void> {
  const live: OfflineFeatureRow[] = rows.map((r, i) => ({
    ...r,
    createdAtMs: 0,
    origin: { partition: 0, offset: String(i), seq: 0, marker: false },
  }))
  const markers = Object.fromEntries(Array.from({ length: partitions }, (_, p) => [`g/${TOPIC}/${p}`, 1]))
  await sink.commit(featureTable(sink), [await sink.stageFeatureRows(view, live)], markers, {})
}

/** A fresh archive and live table holding `live(replayed)`; the replay's rows (per entity, in order) come from a first parity against an empty table. */
async function world(seed: number, live: (replayed: FeatureRow[]) => FeatureRow[]): Promise<IcebergOfflineSink> {
  const empty = await archive(seed)
  await commitLive(empty.sink, empty.partitions, [])
  const all = await verify(empty.sink, { maxDifferences: 1e9 })
  const replayed = all.differences.map((d) => d.replay!)
  assert.ok(replayed.length === all.replayRows && replayed.length > 50, `${replayed.length} rows replayed`)
  const { sink, partitions } = await archive(seed)
  await commitLive(sink, partitions, live(replayed))
  return sink
}

function verify(
  sink: IcebergOfflineSink,
  options: { rowsPerPass?: number; maxDifferences?: number; observePass?: (pass: ParityPass) => void } = {},
): Promise<ParityReport> {
  return verifyParity({ offline: sink, decoder, view, groupId: 'g', scratch: new MemoryObjectStore(), ...options })
}

const isNumber = (v: unknown): v is number => typeof v === 'number'

/**
 * The injected differences, each in an entity of its own: a changed value, a NaN, −0 for 0, a row
 * more, a row less, an unknown entity; and every third row of about half the entities changed, so
 * that there are more differences than maxDifferences, in every shard.
 */
function damaged(seed: number, replayed: FeatureRow[]): FeatureRow[] {
  const rng = prng(seed + 1000)
  const bulk = (r: FeatureRow, i: number) => i % 3 === 0 && entityShardOf(r.entityKey, 2) === 0
  const rows = replayed.map((r, i) => ({
    ...r,
    values: bulk(r, i) ? r.values.map((v) => (isNumber(v) ? v * 2 + 1 : v)) : [...r.values],
  }))
  const touched = new Set(['zero'])
  /** A row of an entity not touched yet (scanning from a random one), its entity then touched. */
  const rowOfAnother = (): number => {
    const start = Math.floor(rng.next() * rows.length)
    for (let k = 0; k < rows.length; k++) {
      const i = (start + k) % rows.length
      if (!touched.has(rows[i]!.entityKey)) {
        touched.add(rows[i]!.entityKey)
        return i
      }
    }
    throw new Error('too few entities')
  }
  const changed = rowOfAnother()
  rows[changed]!.values[0] = (rows[changed]!.values[0] as number) + 1
  rows[rowOfAnother()]!.values[1] = NaN
  const zero = rows.findIndex((r) => r.entityKey === 'zero')
  const at = rows[zero]!.values.findIndex((v, i) => Object.is(v, 0) && view.features[i]!.type === 'double')
  assert.ok(at >= 0, "the amount-0 event's row has a double 0")
  rows[zero]!.values[at] = -0
  const longer = rows[rowOfAnother()]!.entityKey
  const last = rows.findLastIndex((r) => r.entityKey === longer)
  rows.splice(last + 1, 0, { ...rows[last]!, asOfMs: rows[last]!.asOfMs + 1 })
  rows.splice(rowOfAnother(), 1)
  rows.push({ entityKey: 'nobody', asOfMs: Date.UTC(2026, 0, 1), values: view.features.map(() => 1) })
  return rows
}

/** A budget that makes the live table `shards` passes (checked through observePass). */
async function inPasses(sink: IcebergOfflineSink, shards: number, maxDifferences: number): Promise<ParityReport> {
  const rows = (await sink.featureTableStats(view))!.rows
  const seen: ParityPass[] = []
  const report = await verify(sink, { rowsPerPass: Math.ceil(rows / shards), maxDifferences, observePass: (p) => seen.push(p) })
  assert.deepEqual(
    seen.map((p) => p.shard),
    Array.from({ length: shards }, (_, index) => ({ index, of: shards })),
    `${shards} passes over ${rows} rows`,
  )
  return report
}

const SEEDS = [1, 2, 3, 4]

void describe('replay > verify-parity > entity-shard passes', () => {
  for (const seed of SEEDS) {
    void test(`seed ${seed}: 1, 2, 3 and 7 passes give the one-pass report, matching and with injected differences`, async () => {
      const matching = await world(seed, (r) => r)
      const wrong = await world(seed, (r) => damaged(seed, r))
      for (const [what, sink] of [
        ['matching', matching],
        ['damaged', wrong],
      ] as const) {
        const all = await verify(sink, { maxDifferences: 1e6 })
        assert.equal(all.ok, what === 'matching', `${what}: ok`)
        if (what === 'damaged') {
          const d = all.differences
          assert.ok(d.length > 10, `${d.length} differences: more than the default maxDifferences`)
          assert.ok(
            d.some((x) => x.entityKey === 'nobody' && x.replay === undefined),
            'the extra entity',
          )
          assert.ok(
            d.some((x) => x.entityKey !== 'nobody' && x.live !== undefined && x.replay === undefined),
            'an extra row',
          )
          assert.ok(
            d.some((x) => x.live === undefined && x.replay !== undefined),
            'a missing row',
          )
          assert.ok(
            d.some((x) => x.live?.entityKey === 'zero' && x.live.values.some((v) => Object.is(v, -0))),
            'the −0',
          )
          assert.ok(
            d.some((x) => x.live?.values.some((v) => Number.isNaN(v))),
            'the NaN',
          )
        }
        for (const maxDifferences of [10, 3, 1e6]) {
          const one = await verify(sink, { maxDifferences })
          assert.deepStrictEqual(
            one.differences,
            all.differences.slice(0, maxDifferences),
            `${what}: the first ${maxDifferences} differences`,
          )
          for (const shards of [1, 2, 3, 7])
            assert.deepStrictEqual(
              await inPasses(sink, shards, maxDifferences),
              one,
              `${what}, ${shards} passes, maxDifferences ${maxDifferences}`,
            )
        }
      }
    })
  }

  void test('a pass holds its shard’s rows only, live and replayed: never the whole table', async () => {
    const sink = await world(7, (r) => r)
    const whole = await sink.readFeatureRows(view)
    const total = [...whole.values()].reduce((n, rows) => n + rows.length, 0)
    const shards = 3
    const perShard = Array.from({ length: shards }, () => 0)
    for (const [key, rows] of whole) perShard[entityShardOf(key, shards)]! += rows.length
    // Every read of the live table counted: the old code read it whole in one call.
    const reads: number[] = []
    const counting = new Proxy(sink, {
      get(target, name) {
        if (name === 'readFeatureRows')
          return async (...args: Parameters<IcebergOfflineSink['readFeatureRows']>) => {
            const rows = await target.readFeatureRows(...args)
            reads.push([...rows.values()].reduce((n, r) => n + r.length, 0))
            return rows
          }
        const value: unknown = Reflect.get(target, name)
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
    const passes: ParityPass[] = []
    const report = await verifyParity({
      offline: counting,
      decoder,
      view,
      groupId: 'g',
      scratch: new MemoryObjectStore(),
      rowsPerPass: Math.ceil(total / shards),
      observePass: (p) => passes.push(p),
    })
    assert.ok(report.ok && report.liveRows === total)
    assert.equal(passes.length, shards)
    assert.deepEqual(reads, perShard, 'each read returned exactly its shard’s rows')
    for (const pass of passes) {
      assert.equal(pass.liveRows, perShard[pass.shard.index], `shard ${pass.shard.index}: live rows`)
      assert.equal(
        pass.replayRows,
        perShard[pass.shard.index],
        `shard ${pass.shard.index}: replayed rows (parity holds: as many as live)`,
      )
      assert.ok(
        pass.liveRows <= Math.max(...perShard) && pass.liveRows < total,
        `shard ${pass.shard.index} holds ${pass.liveRows} of ${total}`,
      )
    }
  })

  void test('a table that fits a pass is compared in one pass (one replay), as before', async () => {
    const sink = await world(8, (r) => r)
    const passes: ParityPass[] = []
    const report = await verify(sink, { observePass: (p) => passes.push(p) })
    assert.ok(report.ok)
    assert.deepEqual(
      passes.map((p) => p.shard),
      [{ index: 0, of: 1 }],
    )
    assert.equal(passes[0]!.liveRows, report.liveRows)
    await assert.rejects(verify(sink, { rowsPerPass: 0 }), RangeError)
  })
})
