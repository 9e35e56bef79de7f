/**
 * A raw archive whose data files are not what kfs wrote — the same file referenced twice, files
 * overlapping by many offsets or by one, a row repeated inside a file, a file with the archive's
 * columns missing or of another type, offsets without bounds or negative — is DATA_CORRUPT naming
 * the file, from `archiveEnd` or from `readArchive` (what replay, verify-parity and the live
 * catch-up read). Before, replay counted repeated records twice, crashed on a TypeError or a
 * SyntaxError, or silently skipped whole files. Archives kfs does write (markers sharing an offset,
 * a marker before its record, offsets with gaps, an extra column from a newer writer) still read.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  loadTable,
  RAW_ARCHIVE_PARTITION_SPEC,
  RAW_ARCHIVE_SCHEMA,
  writeDataFiles,
  type IcebergField,
} from '../../../adapters/offline/iceberg/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import { testClock as clock } from './clicks-table.ts'

const TOPIC = 'purchases'
const T0 = Date.UTC(2026, 0, 1)

function record(offset: number): ArchiveRow {
  return {
    partition: 0,
    offset: String(offset),
    eventTimeMs: T0 + offset,
    key: Uint8Array.of(offset & 0xff),
    schemaId: 1,
    payload: Uint8Array.of(0, 0, 0, 0, 1, offset & 0xff),
    markerWatermarkMs: null,
    timestampMs: T0 + offset,
  }
}

function marker(offset: number, watermarkMs: number): ArchiveRow {
  return {
    partition: 0,
    offset: String(offset),
    eventTimeMs: null,
    key: null,
    schemaId: null,
    payload: null,
    markerWatermarkMs: watermarkMs,
    timestampMs: -1,
  }
}

const range = (from: number, to: number): ArchiveRow[] => Array.from({ length: to - from }, (_, i) => record(from + i))

/** An archive of `commits`, each one checkpoint's rows, committed in turn. */
async function archiveOf(
  commits: readonly (readonly ArchiveRow[])[],
): Promise<{ store: MemoryObjectStore; sink: IcebergOfflineSink }> {
  const store = new MemoryObjectStore()
  const sink = new IcebergOfflineSink(store, { parquetWorker: false })
  const table = sink.tableId({ kind: 'archive', topic: TOPIC })
  for (const [i, rows] of commits.entries())
    await sink.commit(table, [await sink.stageArchiveRows(TOPIC, rows)], { [`g/${TOPIC}/0`]: i + 1 }, {})
  return { store, sink: new IcebergOfflineSink(store, { parquetWorker: false }) }
}

/** Appends to the archive a file written with `fields` (the archive's schema, altered) holding `rows`. */
async function appendForeignFile(
  store: MemoryObjectStore,
  fields: readonly IcebergField[],
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  const foreign = await createTable(store, `wh/foreign-${Math.random().toString(36).slice(2)}`, {
    schema: { type: 'struct', 'schema-id': 0, fields: [...fields] },
    partitionSpec: RAW_ARCHIVE_PARTITION_SPEC,
    clock,
  })
  const files = await writeDataFiles(foreign, rows as never, { parquetWorker: false })
  await appendFiles(await loadTable(store, `warehouse/archive/${TOPIC}`), files, {}, { clock })
}

/** Everything a replay would read: the ends, then each partition's rows up to them; the offsets read, or the error. */
async function replayRead(sink: IcebergOfflineSink): Promise<string[] | unknown> {
  try {
    const end = await sink.archiveEnd(TOPIC)
    const offsets: string[] = []
    for (const [p, until] of Object.entries(end.nextOffsets)) {
      for await (const row of sink.readArchive(TOPIC, Number(p), { untilOffset: until }))
        offsets.push(`${row.markerWatermarkMs === null ? '' : 'm'}${row.offset}`)
    }
    return offsets
  } catch (err: unknown) {
    return err
  }
}

function assertDamaged(result: unknown, what: string, detail: RegExp): void {
  assert.ok(
    result instanceof FeatureStoreError,
    `${what}: not refused: ${Array.isArray(result) ? `${result.length} rows read` : String(result)}`,
  )
  assert.equal(result.code, 'DATA_CORRUPT', `${what}: ${result.message}`)
  assert.match(result.message, /^data file memory:\/\/kfs\/\S+\.parquet of the archive of purchases /, what)
  assert.match(result.message, detail, what)
  assert.match(result.message, /the archive table is damaged; restore it from a copy$/, what)
  assert.ok(
    typeof result.context?.file === 'string' && result.message.includes(result.context.file),
    `${what}: the file is in the context`,
  )
}

const base: readonly IcebergField[] = RAW_ARCHIVE_SCHEMA.fields
const retyped = (name: string, type: IcebergField['type']): IcebergField[] =>
  base.map((f) => (f.name === name ? { ...f, required: false, type } : f))
const foreignRow = (offset: number, overrides: Record<string, unknown> = {}): Record<string, unknown> => {
  const r = record(offset)
  return {
    partition: 0,
    offset,
    event_time: r.eventTimeMs,
    key: r.key,
    schema_id: 1,
    payload: r.payload,
    marker_watermark: null,
    ingestion_time: r.timestampMs,
    ...overrides,
  }
}
const foreignRows = (overrides: Record<string, unknown>) => Array.from({ length: 5 }, (_, i) => foreignRow(20 + i, overrides))

void describe('offline tables > a damaged raw archive', () => {
  void test('offsets read twice or going back (duplicate files, overlaps, a repeated row): DATA_CORRUPT naming the file', async () => {
    const cases: [string, (readonly ArchiveRow[])[], RegExp][] = [
      [
        'the same stretch committed twice',
        [range(0, 10), range(10, 20), range(10, 20)],
        /holds offset 10 of partition 0, already read \(up to 19\)/,
      ],
      [
        'files overlapping by five offsets',
        [range(0, 10), range(10, 20), range(15, 25)],
        /holds offset 15 of partition 0, already read \(up to 19\)/,
      ],
      [
        'files overlapping by one offset',
        [range(0, 10), range(9, 20)],
        /holds offset 9 of partition 0, already read \(up to 9\)/,
      ],
      [
        'a row repeated inside a file',
        [[...range(0, 5), record(4), ...range(5, 10)]],
        /holds offset 4 of partition 0, already read \(up to 4\)/,
      ],
      [
        'a file out of offset order',
        [[...range(5, 10), ...range(0, 5)]],
        /holds offset 0 of partition 0, already read \(up to 9\)/,
      ],
      [
        'a marker after a later record',
        [[...range(0, 5), marker(6, T0), record(6), marker(5, T0)]],
        /goes back to offset 5 of partition 0|already read/,
      ],
      [
        'a record before a marker it follows',
        [[...range(0, 3), marker(5, T0), record(4)]],
        /goes back to offset 4 of partition 0/,
      ],
    ]
    for (const [what, commits, detail] of cases) {
      const { sink } = await archiveOf(commits)
      assertDamaged(await replayRead(sink), what, detail)
    }
  })

  void test('a file whose columns are not the archive’s: DATA_CORRUPT naming the file and the column', async () => {
    const cases: [string, readonly IcebergField[], Record<string, unknown>[], RegExp][] = [
      [
        'no offset column',
        base.filter((f) => f.name !== 'offset'),
        foreignRows({ offset: undefined }),
        /has no offset bounds in its manifest entry/,
      ],
      [
        'offset as string',
        retyped('offset', 'string'),
        foreignRows({}).map((r) => ({ ...r, offset: String(r.offset) })),
        /has no offset bounds in its manifest entry/,
      ],
      [
        'offset as double',
        retyped('offset', 'double'),
        foreignRows({}).map((r) => ({ ...r, offset: (r.offset as number) + 0.5 })),
        /has no offset bounds|a double in column offset/,
      ],
      [
        'negative offsets',
        base,
        foreignRows({}).map((r) => ({ ...r, offset: -(r.offset as number) })),
        /has offset bounds -24…-20 in its manifest entry/,
      ],
      [
        'payload as string',
        retyped('payload', 'string'),
        foreignRows({ payload: 'abc' }),
        /has a string in column payload at offset 20, not binary/,
      ],
      ['key as long', retyped('key', 'long'), foreignRows({ key: 7 }), /has a long in column key at offset 20, not binary/],
      [
        'schema_id as string',
        retyped('schema_id', 'string'),
        foreignRows({ schema_id: 'one' }),
        /has a string in column schema_id at offset 20, not a long/,
      ],
      [
        'event_time as string',
        retyped('event_time', 'string'),
        foreignRows({ event_time: 'noon' }),
        /has a string in column event_time at offset 20, not a timestamp/,
      ],
      [
        'marker_watermark as string',
        retyped('marker_watermark', 'string'),
        foreignRows({ marker_watermark: 'x' }),
        /has a string in column marker_watermark at offset 20, not a timestamp/,
      ],
      [
        'ingestion_time as string',
        retyped('ingestion_time', 'string'),
        foreignRows({ ingestion_time: 'x' }),
        /has a string in column ingestion_time at offset 20, not a timestamp/,
      ],
    ]
    for (const [what, fields, rows, detail] of cases) {
      const { store, sink } = await archiveOf([range(0, 10), range(10, 20)])
      await appendForeignFile(store, fields, rows)
      assertDamaged(await replayRead(sink), what, detail)
    }
  })

  void test('what kfs writes still reads whole: shared marker offsets, a marker before its record, gaps, an extra column', async () => {
    const { sink } = await archiveOf([
      [...range(0, 3), marker(3, T0), marker(3, T0 + 1)],
      [record(3), marker(4, T0 + 2)],
      [...range(4, 6), ...range(9, 12), marker(12, T0 + 3)],
    ])
    assert.deepEqual(await replayRead(sink), ['0', '1', '2', 'm3', 'm3', '3', 'm4', '4', '5', '9', '10', '11', 'm12'])
    const { store, sink: extended } = await archiveOf([range(0, 20)])
    await appendForeignFile(
      store,
      [...base, { id: 9, name: 'note', required: false, type: 'string' }],
      foreignRows({ note: 'from a newer writer' }),
    )
    assert.deepEqual(
      await replayRead(extended),
      Array.from({ length: 25 }, (_, i) => String(i)),
    )
  })
})
