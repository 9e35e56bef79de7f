/**
 * Contract every offline adapter passes (ports/offline.ts, ports/feature-rows.ts,
 * ports/offline-compaction.ts): Iceberg on a local directory and in memory (unit), on MinIO
 * (integration). `makeSubject` gets a fresh, empty namespace per call; `reopen` opens a second
 * adapter over the same tables, as a restarted process would.
 *
 * Pinned feature files are read with the Parquet codec: Parquet is part of that port's contract.
 */
import { describe, test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as examples from '../../examples/features.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../../features/types.ts'
import type { FeatureRowReader } from '../../ports/feature-rows.ts'
import type { ArchiveRow, OfflineFeatureRow, OfflineSink } from '../../ports/offline.ts'
import type { OfflineCompactor } from '../../ports/offline-compaction.ts'
import { createParquetCodec } from '../../adapters/offline/parquet/index.ts'

export type OfflineContractStore = OfflineSink & FeatureRowReader & OfflineCompactor

export interface OfflineContractSubject {
  readonly offline: OfflineContractStore
  /** Another adapter over the same tables (a restarted process: no state shared in memory). */
  reopen(): OfflineContractStore
}

const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 15, 10)
const TOPIC = 'clicks'
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A view with one feature of every value type (only name, version and features reach the table). */
const base = examples.userClicks.features[0]!.aggregation
const view: FeatureViewDef = {
  ...examples.userClicks,
  name: 'contract_view',
  version: 3,
  features: (['long', 'double', 'string', 'long[]', 'double[]', 'string[]'] as const).map((type, i) => ({ name: `f${i}`, type, aggregation: base })),
}

function valuesFor(n: number): FeatureValue[] {
  return [n % 5 === 0 ? null : n, n === 3 ? -0 : n / 8, n % 4 === 0 ? null : `v${n}·ü`, [n, 2 ** 40 + n], [n + 0.25, -1.5], n % 3 === 0 ? null : ['a', `b${n}`]]
}

/** A feature row of `entity` at `asOfMs`, emitted by the record at `offset` (index `seq` there). */
function featureRow(entity: string, asOfMs: number, offset: number, seq = 0, partition = 0): OfflineFeatureRow {
  return { entityKey: entity, asOfMs, createdAtMs: asOfMs + 500, values: valuesFor(offset * 10 + seq), origin: { partition, offset: String(offset), seq, marker: false } }
}

function record(partition: number, offset: number): ArchiveRow {
  return {
    partition,
    offset: String(offset),
    eventTimeMs: offset % 4 === 1 ? null : T0 + offset * 1000,
    key: offset % 3 === 2 ? null : bytes(`key-${partition}-${offset}`),
    schemaId: 2 ** 31 + offset,
    payload: bytes(`payload-${partition}-${offset}`),
    markerWatermarkMs: null,
    timestampMs: T0 + offset * 1000 + 7,
  }
}

function marker(partition: number, offset: number, watermarkMs: number): ArchiveRow {
  return { partition, offset: String(offset), eventTimeMs: null, key: null, schemaId: null, payload: null, markerWatermarkMs: watermarkMs, timestampMs: -1 }
}

/** Rows as comparable text: `r<offset>` for a record, `m<offset>@<watermark>` for a marker. */
function labels(rows: readonly ArchiveRow[]): string[] {
  return rows.map((r) => (r.markerWatermarkMs === null ? `r${r.offset}` : `m${r.offset}@${r.markerWatermarkMs - T0}`))
}

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const row of rows) out.push(row)
  return out
}

async function commitArchive(offline: OfflineContractStore, rows: readonly ArchiveRow[], markers: Record<string, number> = {}): Promise<string> {
  const tableId = offline.tableId({ kind: 'archive', topic: TOPIC })
  await offline.commit(tableId, [await offline.stageArchiveRows(TOPIC, rows)], markers, {})
  return (await offline.snapshots(tableId)).at(-1)!.snapshotId
}

async function commitFeatures(offline: OfflineContractStore, rows: readonly OfflineFeatureRow[], markers: Record<string, number> = {}): Promise<string> {
  const tableId = offline.tableId({ kind: 'feature', view })
  await offline.commit(tableId, [await offline.stageFeatureRows(view, rows)], markers, {})
  return (await offline.snapshots(tableId)).at(-1)!.snapshotId
}

/** What readFeatureRows must return for `rows`: per entity, in (offset, seq) order, without created_at. */
function expectedByEntity(rows: readonly OfflineFeatureRow[]): Map<string, FeatureRow[]> {
  const sorted = [...rows].sort((a, b) => Number(a.origin.offset) - Number(b.origin.offset) || a.origin.seq - b.origin.seq)
  const out = new Map<string, FeatureRow[]>()
  for (const r of sorted) out.set(r.entityKey, [...(out.get(r.entityKey) ?? []), { entityKey: r.entityKey, asOfMs: r.asOfMs, values: r.values }])
  return out
}

/** Same entities, same rows in the same order; strict deep equality tells −0 from 0. */
function assertSameRows(actual: Map<string, FeatureRow[]>, expected: Map<string, FeatureRow[]>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort())
  for (const [key, rows] of expected) assert.deepEqual(actual.get(key), rows, `rows of ${key}`)
}

export function runOfflineContract(name: string, makeSubject: () => Promise<OfflineContractSubject>, cleanup?: () => Promise<void>): void {
  void describe(`offline contract > ${name}`, () => {
    const temps: string[] = []
    after(async () => {
      for (const dir of temps) await rm(dir, { recursive: true, force: true })
      await cleanup?.()
    })
    const tempDir = async (): Promise<string> => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-offline-contract-'))
      temps.push(dir)
      return dir
    }

    void test('tableId names each table stably and tells tables apart', async () => {
      const { offline, reopen } = await makeSubject()
      const ids = [
        offline.tableId({ kind: 'feature', view }),
        offline.tableId({ kind: 'feature', view: { name: view.name, version: view.version + 1 } }),
        offline.tableId({ kind: 'feature', view: { name: 'other', version: view.version } }),
        offline.tableId({ kind: 'archive', topic: TOPIC }),
        offline.tableId({ kind: 'archive', topic: 'other' }),
      ]
      assert.equal(new Set(ids).size, ids.length, ids.join(', '))
      assert.equal(reopen().tableId({ kind: 'feature', view: { name: view.name, version: view.version } }), ids[0])
      assert.deepEqual(await offline.snapshots(ids[0]!), [], 'a table never written has no snapshot')
    })

    void test('staged files are invisible until commit', async () => {
      const { offline } = await makeSubject()
      const archiveId = offline.tableId({ kind: 'archive', topic: TOPIC })
      const featureId = offline.tableId({ kind: 'feature', view })
      const stagedArchive = await offline.stageArchiveRows(TOPIC, [record(0, 0), record(0, 1)])
      const stagedFeatures = await offline.stageFeatureRows(view, [featureRow('u1', T0, 0)])
      assert.equal(stagedArchive.rowCount, 2)
      assert.equal(stagedFeatures.rowCount, 1)
      assert.deepEqual(JSON.parse(JSON.stringify(stagedArchive)), stagedArchive, 'staged files are JSON-safe (checkpoints hold them)')

      assert.deepEqual(await offline.snapshots(archiveId), [])
      assert.deepEqual(await offline.snapshots(featureId), [])
      assert.deepEqual(await collect(offline.readArchive(TOPIC, 0)), [])
      assert.deepEqual(await offline.archiveEnd(TOPIC), { snapshotId: null, nextOffsets: {} })
      assert.equal((await offline.readFeatureRows(view)).size, 0)
      assert.deepEqual(await offline.pinFeatureFiles(view, { snapshotId: undefined, tempDir: await tempDir() }), { snapshotId: null, files: [] })

      await offline.commit(archiveId, [stagedArchive], {}, {})
      await offline.commit(featureId, [stagedFeatures], {}, {})
      assert.deepEqual(labels(await collect(offline.readArchive(TOPIC, 0))), ['r0', 'r1'])
      assertSameRows(await offline.readFeatureRows(view), expectedByEntity([featureRow('u1', T0, 0)]))
    })

    void test('commit is idempotent per markers, for a restarted writer too; without markers it always appends', async () => {
      const { offline, reopen } = await makeSubject()
      const tableId = offline.tableId({ kind: 'archive', topic: TOPIC })
      const first = await offline.stageArchiveRows(TOPIC, [record(0, 0), record(0, 1)])
      await offline.commit(tableId, [first], { 'g/clicks/0': 1 }, { 'kfs.note': 'first' })
      // The same checkpoint rolled forward again: by this writer, then by a restarted one.
      await offline.commit(tableId, [first], { 'g/clicks/0': 1 }, {})
      const restarted = reopen()
      await restarted.commit(tableId, [await restarted.stageArchiveRows(TOPIC, [record(0, 0), record(0, 1)])], { 'g/clicks/0': 1 }, {})
      // An older marker is held too.
      await offline.commit(tableId, [await offline.stageArchiveRows(TOPIC, [record(0, 0)])], { 'g/clicks/0': 0 }, {})
      assert.equal((await offline.snapshots(tableId)).length, 1)
      assert.deepEqual(labels(await collect(restarted.readArchive(TOPIC, 0))), ['r0', 'r1'], 'no row twice')

      // Markers held only in part: the commit is new.
      await restarted.commit(tableId, [await restarted.stageArchiveRows(TOPIC, [record(0, 2)])], { 'g/clicks/0': 2, 'g/clicks/1': 1 }, {})
      assert.equal((await offline.snapshots(tableId)).length, 2)

      const featureId = offline.tableId({ kind: 'feature', view })
      const rows = [featureRow('u1', T0, 5)]
      await offline.commit(featureId, [await offline.stageFeatureRows(view, rows)], {}, {})
      await offline.commit(featureId, [await offline.stageFeatureRows(view, rows)], {}, {})
      assert.equal((await offline.snapshots(featureId)).length, 2)
      assert.equal((await offline.readFeatureRows(view)).get('u1')?.length, 2, 'a commit without markers appends every time')
    })

    void test('snapshots: oldest first, each with the markers accumulated up to it; commits of one writer apply in call order', async () => {
      const { offline } = await makeSubject()
      const tableId = offline.tableId({ kind: 'feature', view })
      const staged = await Promise.all([0, 1, 2].map((i) => offline.stageFeatureRows(view, [featureRow('u1', T0 + i, i)])))
      // Not awaited one by one: the writer must still apply them in call order.
      await Promise.all([
        offline.commit(tableId, [staged[0]!], { a: 1 }, {}),
        offline.commit(tableId, [staged[1]!], { b: 4 }, {}),
        offline.commit(tableId, [staged[2]!], { a: 2 }, {}),
      ])
      const snapshots = await offline.snapshots(tableId)
      // Commits pending together may share a snapshot (group commit), but never reorder: `a`'s
      // second lands after its first, in a later snapshot, and every snapshot keeps the earlier ones'.
      assert.deepEqual([...new Set(snapshots.map((s) => s.markers.a))], [1, 2])
      assert.deepEqual(snapshots.at(-1)?.markers, { a: 2, b: 4 })
      for (const [i, s] of snapshots.entries()) {
        const before = snapshots[i - 1]?.markers ?? {}
        for (const [name, seq] of Object.entries(before)) assert.ok((s.markers[name] ?? 0) >= seq, `snapshot ${i} lost marker ${name}`)
      }
      assert.equal(new Set(snapshots.map((s) => s.snapshotId)).size, snapshots.length)
      for (const s of snapshots) assert.match(s.snapshotId, /^-?\d+$/)
      // Each snapshot holds exactly the rows of the commits its markers show.
      for (const s of snapshots) {
        const committed = [s.markers.a! >= 1, (s.markers.b ?? 0) >= 4, s.markers.a! >= 2].filter(Boolean).length
        assert.equal((await offline.readFeatureRows(view, { snapshotId: s.snapshotId })).get('u1')?.length, committed)
      }
    })

    void test('readArchive: archive order within a partition (a marker before the record of its offset), fields round-trip, partitions apart', async () => {
      const { offline } = await makeSubject()
      const w = (ms: number) => T0 + ms
      // One partition's rows across two commits, interleaved with another partition's.
      await commitArchive(offline, [record(0, 0), record(1, 0), record(0, 1), record(0, 2), marker(0, 3, w(100)), record(1, 1)])
      await commitArchive(offline, [record(0, 3), record(0, 4), marker(0, 5, w(200)), marker(0, 5, w(300)), record(0, 5), marker(1, 2, w(150))])
      const p0 = await collect(offline.readArchive(TOPIC, 0))
      assert.deepEqual(labels(p0), ['r0', 'r1', 'r2', 'm3@100', 'r3', 'r4', 'm5@200', 'm5@300', 'r5'])
      assert.deepEqual(labels(await collect(offline.readArchive(TOPIC, 1))), ['r0', 'r1', 'm2@150'])
      assert.deepEqual(await collect(offline.readArchive(TOPIC, 7)), [], 'a partition never archived')
      assert.deepEqual(await collect(offline.readArchive('never-archived', 0)), [], 'a topic never archived')
      assert.deepEqual(
        p0.filter((r) => r.markerWatermarkMs === null),
        [0, 1, 2, 3, 4, 5].map((o) => record(0, o)),
        'every field of a record round-trips (null key and event time, 32-bit-unsigned schema ids)',
      )
      assert.deepEqual(p0[3], marker(0, 3, w(100)), 'a marker round-trips')
    })

    void test('readArchive and readArchiveBatches bounds: records from fromOffset below untilOffset, markers from fromOffset up to untilOffset', async () => {
      const { offline } = await makeSubject()
      await commitArchive(offline, [record(0, 0), record(0, 1), record(0, 2), marker(0, 3, T0 + 100)])
      await commitArchive(offline, [record(0, 3), record(0, 4), marker(0, 5, T0 + 200), marker(0, 5, T0 + 300), record(0, 5), record(0, 6)])
      const read = async (options: { fromOffset?: string; untilOffset?: string }) => {
        const rows = await collect(offline.readArchive(TOPIC, 0, options))
        const batches = await collect(offline.readArchiveBatches(TOPIC, 0, options))
        assert.ok(batches.every((b) => b.length > 0), 'no batch is empty')
        assert.deepEqual(batches.flat(), rows, 'readArchiveBatches: the same rows, in the same order')
        return labels(rows)
      }
      assert.deepEqual(await read({ fromOffset: '3' }), ['m3@100', 'r3', 'r4', 'm5@200', 'm5@300', 'r5', 'r6'])
      assert.deepEqual(await read({ untilOffset: '3' }), ['r0', 'r1', 'r2', 'm3@100'])
      assert.deepEqual(await read({ untilOffset: '5' }), ['r0', 'r1', 'r2', 'm3@100', 'r3', 'r4', 'm5@200', 'm5@300'])
      assert.deepEqual(await read({ fromOffset: '4', untilOffset: '6' }), ['r4', 'm5@200', 'm5@300', 'r5'])
      assert.deepEqual(await read({ fromOffset: '5', untilOffset: '5' }), ['m5@200', 'm5@300'])
      assert.deepEqual(await read({ fromOffset: '7' }), [])
    })

    void test('readArchive and archiveEnd at a pinned snapshot; an unknown snapshot rejects', async () => {
      const { offline } = await makeSubject()
      const first = await commitArchive(offline, [record(0, 0), record(0, 1), record(1, 0)])
      const second = await commitArchive(offline, [record(0, 2), record(0, 3), record(2, 0)])
      assert.deepEqual(labels(await collect(offline.readArchive(TOPIC, 0, { snapshotId: first }))), ['r0', 'r1'])
      assert.deepEqual(labels(await collect(offline.readArchive(TOPIC, 0, { snapshotId: second }))), ['r0', 'r1', 'r2', 'r3'])
      assert.deepEqual(await collect(offline.readArchive(TOPIC, 2, { snapshotId: first })), [])
      assert.deepEqual(await offline.archiveEnd(TOPIC, first), { snapshotId: first, nextOffsets: { 0: '2', 1: '1' } })
      assert.deepEqual(await offline.archiveEnd(TOPIC), { snapshotId: second, nextOffsets: { 0: '4', 1: '1', 2: '1' } })
      await assert.rejects(collect(offline.readArchive(TOPIC, 0, { snapshotId: '12345' })))
      await assert.rejects(offline.archiveEnd(TOPIC, '12345'))
    })

    void test('archiveEnd: past the last record; with a trailing marker, reading up to it still reads everything', async () => {
      const { offline } = await makeSubject()
      assert.deepEqual(await offline.archiveEnd(TOPIC), { snapshotId: null, nextOffsets: {} })
      await commitArchive(offline, [record(0, 0), record(0, 1), record(0, 2), marker(0, 3, T0 + 100), record(1, 0), record(1, 1)])
      const end = await offline.archiveEnd(TOPIC)
      assert.equal(end.nextOffsets[1], '2')
      // The marker's offset is the next one to read: the end is past the last record, at most past the marker.
      const p0 = BigInt(end.nextOffsets[0]!)
      assert.ok(p0 === 3n || p0 === 4n, `nextOffsets[0] = ${p0}`)
      const upToEnd = await collect(offline.readArchive(TOPIC, 0, { untilOffset: end.nextOffsets[0]!, ...(end.snapshotId === null ? {} : { snapshotId: end.snapshotId }) }))
      assert.deepEqual(labels(upToEnd), ['r0', 'r1', 'r2', 'm3@100'])
    })

    void test('readFeatureRows: per entity in archive order (offset, then seq), values round-trip, pinned snapshots', async () => {
      const { offline, reopen } = await makeSubject()
      // Written out of archive order, across two commits and two days; ties on as_of broken by seq.
      const firstRows = [featureRow('u1', T0 + 2_000, 7, 1), featureRow('u2', T0, 3), featureRow('u1', T0 + 2_000, 7, 0), featureRow('u1', T0, 2)]
      const secondRows = [featureRow('u2', T0 + DAY, 9), featureRow('u1', T0 + DAY + 5, 8, 2, 1), featureRow('u3', T0 + DAY, 11)]
      const first = await commitFeatures(offline, firstRows)
      await commitFeatures(offline, secondRows)
      const reader = reopen()
      assertSameRows(await reader.readFeatureRows(view), expectedByEntity([...firstRows, ...secondRows]))
      assertSameRows(await reader.readFeatureRows(view, { snapshotId: first }), expectedByEntity(firstRows))
      assert.equal((await reader.readFeatureRows(view, { snapshotId: null })).size, 0, 'null: no snapshot at this cut')
      assert.equal((await reader.readFeatureRows({ ...view, version: 99 })).size, 0, 'a table never written reads as empty')
      await assert.rejects(reader.readFeatureRows(view, { snapshotId: '12345' }))
    })

    void test('tombstones of an attribute view (docs/design.md §11) keep their deleted mark; other views have no such column', async () => {
      const { offline, reopen } = await makeSubject()
      const attrs: FeatureViewDef = { ...view, name: 'contract_attributes', changeMode: 'attributes', features: view.features.slice(0, 3) }
      const rows: OfflineFeatureRow[] = [
        { entityKey: 'u1', asOfMs: T0, createdAtMs: T0 + 1, values: [1, 0.5, 'gold'], origin: { partition: 0, offset: '1', seq: 0, marker: false } },
        { entityKey: 'u1', asOfMs: T0 + 5, createdAtMs: T0 + 6, values: [null, null, null], deleted: true, origin: { partition: 0, offset: '2', seq: 0, marker: false } },
        { entityKey: 'u2', asOfMs: T0 + 7, createdAtMs: T0 + 8, values: [null, null, null], origin: { partition: 0, offset: '3', seq: 0, marker: false } },
      ]
      const tableId = offline.tableId({ kind: 'feature', view: attrs })
      await offline.commit(tableId, [await offline.stageFeatureRows(attrs, rows)], {}, {})
      const read = await reopen().readFeatureRows(attrs)
      assert.deepEqual(read.get('u1'), [
        { entityKey: 'u1', asOfMs: T0, values: [1, 0.5, 'gold'] },
        { entityKey: 'u1', asOfMs: T0 + 5, values: [null, null, null], deleted: true },
      ])
      // A row whose values are all null is not a tombstone unless it says so.
      assert.deepEqual(read.get('u2'), [{ entityKey: 'u2', asOfMs: T0 + 7, values: [null, null, null] }])
      const pinned = await offline.pinFeatureFiles(attrs, { snapshotId: undefined, tempDir: await tempDir() })
      const parquet = createParquetCodec()
      const names = parquet.columnTypes(new Uint8Array(await readFile(pinned.files[0]!))).map((c) => `${c.name}:${c.type}`)
      assert.deepEqual(names.slice(-2), ['f2:string', 'deleted:boolean'])
    })

    void test('featureTableStats: newest as_of, rows and nulls per feature of the current snapshot, from metadata; undefined for a missing table', async () => {
      const { offline, reopen } = await makeSubject()
      assert.equal(await offline.featureTableStats(view), undefined, 'no table yet')
      const first = [featureRow('u1', T0 + 2_000, 1), featureRow('u2', T0 + DAY + 7, 2), featureRow('u3', T0, 3), featureRow('u4', T0, 5)]
      await commitFeatures(offline, first)
      // Scalar features only: list statistics count null elements, not null lists.
      const nullsOf = (rows: readonly OfflineFeatureRow[]) =>
        Object.fromEntries(view.features.flatMap((f, i) => (f.type.endsWith('[]') ? [] : [[f.name, rows.filter((r) => r.values[i] === null).length]])))
      assert.deepEqual(await reopen().featureTableStats(view), { newestAsOfMs: T0 + DAY + 7, rows: 4, nullsByFeature: nullsOf(first) })
      const second = [featureRow('u1', T0 + 5, 4)]
      const stats = await offline.featureTableStats(view)
      await commitFeatures(offline, second)
      const after = await offline.featureTableStats(view)
      assert.equal(after?.newestAsOfMs, T0 + DAY + 7, 'an older row does not lower it')
      assert.equal(after?.rows, (stats?.rows ?? 0) + 1)
      assert.deepEqual(after?.nullsByFeature, nullsOf([...first, ...second]))
      assert.ok(Object.values(after!.nullsByFeature).some((n) => n > 0), 'the rows hold some nulls')
    })

    void test('pinFeatureFiles: the snapshot as local Parquet files of the feature-table layout', async () => {
      const { offline } = await makeSubject()
      const firstRows = [featureRow('u1', T0, 1), featureRow('u2', T0 + DAY, 2)]
      const secondRows = [featureRow('u1', T0 + 60_000, 3, 4)]
      const first = await commitFeatures(offline, firstRows)
      const second = await commitFeatures(offline, secondRows)
      const parquet = createParquetCodec()
      const readPinned = async (files: readonly string[]) => {
        const rows: Record<string, unknown>[] = []
        for (const file of files) {
          const bytes = new Uint8Array(await readFile(file))
          assert.deepEqual(
            parquet.columnTypes(bytes).map((c) => `${c.name}:${c.type}`),
            // The view's entity is `user` (join key user_id, a string): its typed column follows entity_key (offline-join-keys.ts).
            ['entity_key:string', 'user_id:string', 'as_of:timestamptz', 'created_at:timestamptz', 'seq:long', ...view.features.map((f) => `${f.name}:${f.type.endsWith('[]') ? `list<${f.type.slice(0, -2)}>` : f.type}`)],
          )
          for await (const batch of parquet.readBatches(bytes)) {
            for (let i = 0; i < batch.numRows; i++) rows.push(Object.fromEntries(Object.entries(batch.columns).map(([k, v]) => [k, v[i]])))
          }
        }
        return rows.sort((a, b) => (a.seq as number) - (b.seq as number))
      }
      const asPinned = (rows: readonly OfflineFeatureRow[]) =>
        rows.map((r) => ({ entity_key: r.entityKey, user_id: r.entityKey, as_of: r.asOfMs, created_at: r.createdAtMs, seq: Number(r.origin.offset) * 2 ** 21 + r.origin.seq, ...Object.fromEntries(view.features.map((f, i) => [f.name, r.values[i]])) }))

      const current = await offline.pinFeatureFiles(view, { snapshotId: undefined, tempDir: await tempDir() })
      assert.equal(current.snapshotId, second)
      assert.deepEqual(await readPinned(current.files), asPinned([...firstRows, ...secondRows]))
      const pinned = await offline.pinFeatureFiles(view, { snapshotId: first, tempDir: await tempDir() })
      assert.equal(pinned.snapshotId, first)
      assert.deepEqual(await readPinned(pinned.files), asPinned(firstRows))
    })

    void test('pinFeatureFiles: null reads as empty; a missing table is empty unless a snapshot is asked of it; an unknown snapshot rejects', async () => {
      const { offline } = await makeSubject()
      const dir = await tempDir()
      const missing = { name: 'never_written', version: 1 }
      assert.deepEqual(await offline.pinFeatureFiles(missing, { snapshotId: undefined, tempDir: dir }), { snapshotId: null, files: [] })
      assert.deepEqual(await offline.pinFeatureFiles(missing, { snapshotId: null, tempDir: dir }), { snapshotId: null, files: [] })
      await assert.rejects(offline.pinFeatureFiles(missing, { snapshotId: '12345', tempDir: dir }), (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND')
      await commitFeatures(offline, [featureRow('u1', T0, 1)])
      assert.deepEqual(await offline.pinFeatureFiles(view, { snapshotId: null, tempDir: dir }), { snapshotId: null, files: [] })
      await assert.rejects(offline.pinFeatureFiles(view, { snapshotId: '12345', tempDir: dir }))
    })

    void test('compaction keeps the rows and the old snapshots; a second run has nothing to do', async () => {
      const { offline } = await makeSubject()
      const batches = [0, 1, 2].map((c) => [featureRow('u1', T0 + c * 1000, 10 * c), featureRow('u2', T0 + c * 1000, 10 * c + 1), featureRow('u1', T0 + DAY + c, 10 * c + 2)])
      const snapshots: string[] = []
      for (const rows of batches) snapshots.push(await commitFeatures(offline, rows))
      const before = await offline.readFeatureRows(view)
      const olderThanDay = Math.floor((T0 + 3 * DAY) / DAY)
      const result = await offline.compactFeatureTable(view, { olderThanDay })
      assert.ok(result.removedFiles > result.addedFiles && result.addedFiles >= 1, JSON.stringify(result))
      assert.notEqual(result.status, undefined)
      assertSameRows(await offline.readFeatureRows(view), before)
      assertSameRows(await offline.readFeatureRows(view, { snapshotId: snapshots[0]! }), expectedByEntity(batches[0]!))
      const again = await offline.compactFeatureTable(view, { olderThanDay })
      assert.deepEqual(again, { removedFiles: 0, addedFiles: 0, status: undefined })
      assertSameRows(await offline.readFeatureRows(view), before)
    })
  })
}
