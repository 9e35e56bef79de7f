/**
 * The two kinds of tables the engine writes, and row conversions for them.
 *
 * Feature table (one per feature view version), partitioned by `day(as_of)`:
 *   1 entity_key string required · then one column per join key of the view's entity, named as the
 *   key, string or long (join-key-columns.ts) · 2 as_of timestamptz required · 3 created_at
 *   timestamptz required · 4 seq long optional (archive order of the row's input, so ties on as_of
 *   break deterministically, docs/design.md §9) · 5… one column per feature in view order
 *   (long/double/string or list<…> with required elements); element ids follow the top-level ids, as
 *   Java assigns them · attribute views only (docs/design.md §11): `deleted` boolean optional, true
 *   on tombstone rows, after every other id.
 *   The join-key columns sit second but take the LAST ids (after `deleted`), as Iceberg's add-column
 *   followed by move-after would give them: every other column keeps the id it had in tables created
 *   before kfs 0.2, which have no join-key columns. Those tables are left as they are (the writer
 *   writes the columns the table's schema has, so nothing is lost or mislabelled); adding the columns
 *   to them would leave every older row null there, and a join on a half-null column misses rows
 *   silently, where a missing column fails loudly. Publish a new view version to get them.
 *
 * Raw archive table (one per source topic), partitioned by `identity(partition)` → column
 * `kafka_partition`:
 *   1 partition int required · 2 offset long required · 3 event_time timestamptz · 4 key binary ·
 *   5 schema_id long (the Confluent wire format's id is an unsigned 32-bit number; tables created
 *   before kfs 0.2 have int here and refuse ids ≥ 2^31 with a clear error) · 6 payload binary ·
 *   7 marker_watermark timestamptz (idle-advance marker rows carry only this, no payload) ·
 *   8 ingestion_time timestamptz (the record's log timestamp, which the future-event-time rule judges
 *   against — replay must judge the same; absent in older tables, where records are not judged).
 *   Why not day(event_time): replay reads each Kafka partition in offset order, and a day layout
 *   would scatter one partition's offsets over many day directories (late events straddle days),
 *   forcing a merge. With identity(partition) every file holds one Kafka partition's rows in
 *   offset order, each commit adds a contiguous offset range, and the manifest's `offset` bounds
 *   let a reader order files by offset without opening them (`archiveFilesInOffsetOrder`).
 *   `event_time` bounds still let time-range backfills skip files.
 */
import { SchemaError } from '../../../core/errors.ts'
import { runSteps, type Steps } from '../../../core/steps.ts'
import { FEATURE_TABLE_ROW_COLUMNS } from '../../../features/entity.ts'
import type { FeatureValueType, FeatureViewDef, StampedRow, FeatureValue } from '../../../features/types.ts'
import { dayPartitionSpec, type IcebergField, type IcebergPrimitive, type IcebergSchema, type PartitionSpec } from './iceberg-schema.ts'
import type { DataFile } from './manifests.ts'
import { decodeLongBound } from './table-reader.ts'
import type { ColumnarRows, TableRow } from './data-file-writer.ts'
import type { ColumnValues } from '../parquet/index.ts'
import type { OfflineRowColumns } from '../../../ports/offline.ts'
import { joinKeyColumnsOf, joinKeyValuesOf } from './join-key-columns.ts'

/** The row columns before the features, in id order (their ids are 1…4). */
const FEATURE_BASE_COLUMNS = FEATURE_TABLE_ROW_COLUMNS

const ELEMENT_OF: Partial<Record<FeatureValueType, IcebergPrimitive>> = { 'long[]': 'long', 'double[]': 'double', 'string[]': 'string' }

/** The feature-table column marking tombstones; only attribute views (their rows can be deletes) have it. */
export const DELETED_COLUMN = 'deleted'

type TableView = Pick<FeatureViewDef, 'features' | 'changeMode' | 'entity'>
type ReadView = Pick<FeatureViewDef, 'features' | 'changeMode'>

function hasDeletedColumn(view: ReadView): boolean {
  return view.changeMode === 'attributes'
}

export function featureTableSchema(view: TableView): IcebergSchema {
  const entityKey: IcebergField = { id: 1, name: 'entity_key', required: true, type: 'string' }
  const fields: IcebergField[] = [
    { id: 2, name: 'as_of', required: true, type: 'timestamptz' },
    { id: 3, name: 'created_at', required: true, type: 'timestamptz' },
    { id: 4, name: 'seq', required: false, type: 'long' },
  ]
  let nextId = FEATURE_BASE_COLUMNS.length + view.features.length + 1
  view.features.forEach((f, i) => {
    if ((FEATURE_BASE_COLUMNS as readonly string[]).includes(f.name)) throw new SchemaError('SCHEMA_INCOMPATIBLE', `feature name ${f.name} is reserved`)
    const id = FEATURE_BASE_COLUMNS.length + 1 + i
    const element = ELEMENT_OF[f.type]
    fields.push(
      element === undefined
        ? { id, name: f.name, required: false, type: f.type as IcebergPrimitive }
        : { id, name: f.name, required: false, type: { type: 'list', 'element-id': nextId++, 'element-required': true, element } },
    )
  })
  if (hasDeletedColumn(view)) {
    if (view.features.some((f) => f.name === DELETED_COLUMN)) throw new SchemaError('SCHEMA_INCOMPATIBLE', `feature name ${DELETED_COLUMN} is reserved in attribute views`)
    fields.push({ id: nextId++, name: DELETED_COLUMN, required: false, type: 'boolean' })
  }
  // The definitions refuse these clashes (features/entity.ts, feature-view.ts); this guards hand-built views.
  const taken = new Set([entityKey, ...fields].map((f) => f.name.toLowerCase()))
  const joinKeys: IcebergField[] = joinKeyColumnsOf(view.entity).map((k) => {
    if (taken.has(k.name.toLowerCase())) throw new SchemaError('SCHEMA_INCOMPATIBLE', `join key ${k.name} of entity ${view.entity.name} clashes with a column of the feature table`)
    return { id: nextId++, name: k.name, required: false, type: k.type, doc: k.doc }
  })
  return { type: 'struct', 'schema-id': 0, fields: [entityKey, ...joinKeys, ...fields] }
}

export function featureTablePartitionSpec(schema: IcebergSchema): PartitionSpec {
  return dayPartitionSpec(schema, 'as_of')
}

export function featureRowToTableRow(view: TableView, row: StampedRow, seq?: number | bigint): TableRow {
  if (row.values.length !== view.features.length) throw new SchemaError('SCHEMA_INCOMPATIBLE', 'feature row has the wrong number of values')
  const out: Record<string, unknown> = { entity_key: row.entityKey, as_of: row.asOfMs, created_at: row.createdAtMs, seq: seq ?? null }
  const keyValues = joinKeyValuesOf(view.entity, [row.entityKey])
  view.entity.joinKeys.forEach((name, k) => (out[name] = keyValues[k]![0]))
  const features = view.features
  for (let i = 0; i < features.length; i++) out[features[i]!.name] = row.values[i] ?? null
  if (hasDeletedColumn(view)) out[DELETED_COLUMN] = row.deleted === true ? true : null
  return out
}

/** `featureRowToTableRow` for many rows at once, as columns (data-file-writer.ts). */
export function featureRowsToColumns<R extends StampedRow>(view: TableView, rows: readonly R[], seqOf: (row: R) => number | bigint): ColumnarRows {
  return runSteps(featureRowsToColumnsSteps(view, rows, seqOf))
}

/** Rows converted between two pauses of `featureRowsToColumnsSteps`. */
const ROWS_PER_STEP = 1024

/**
 * `featureRowsToColumns`, pausing every 1,024 rows: a checkpoint converts its rows on the engine's
 * thread (offline-sink.ts lets the event loop run at the pauses).
 */
export function* featureRowsToColumnsSteps<R extends StampedRow>(view: TableView, rows: readonly R[], seqOf: (row: R) => number | bigint): Steps<ColumnarRows> {
  const features = view.features
  const entityKeys = new Array<string>(rows.length)
  const asOf = new Array<number>(rows.length)
  const createdAt = new Array<number>(rows.length)
  const seq = new Array<number | bigint>(rows.length)
  const values = features.map(() => new Array<FeatureValue>(rows.length))
  for (let i = 0; i < rows.length; i++) {
    if (i % ROWS_PER_STEP === ROWS_PER_STEP - 1) yield
    const row = rows[i]!
    if (row.values.length !== features.length) throw new SchemaError('SCHEMA_INCOMPATIBLE', 'feature row has the wrong number of values')
    entityKeys[i] = row.entityKey
    asOf[i] = row.asOfMs
    createdAt[i] = row.createdAtMs
    seq[i] = seqOf(row)
    for (let f = 0; f < features.length; f++) values[f]![i] = row.values[f] ?? null
  }
  return featureTableColumns(view, { entity_key: entityKeys, as_of: asOf, created_at: createdAt, seq }, (f) => values[f]!, (i) => rows[i]!.deleted === true)
}

/**
 * A feature table's columns from its row columns (entity key, as_of, created_at, seq, each with a
 * value a row): the join-key columns derived from the entity keys, then the features, then (in
 * attribute views) `deleted`, true or null.
 */
function featureTableColumns(
  view: TableView,
  row: { readonly entity_key: readonly string[]; readonly as_of: NumberColumn; readonly created_at: NumberColumn; readonly seq: readonly (number | bigint)[] },
  featureColumn: (f: number) => readonly FeatureValue[] | Float64Array,
  isDeleted: (i: number) => boolean,
): ColumnarRows {
  const n = row.entity_key.length
  const columns: Record<string, ColumnValues> = { ...row }
  const keyValues = joinKeyValuesOf(view.entity, row.entity_key)
  view.entity.joinKeys.forEach((name, k) => (columns[name] = keyValues[k]!))
  view.features.forEach((feature, f) => (columns[feature.name] = featureColumn(f)))
  if (hasDeletedColumn(view)) {
    const deleted = new Array<true | null>(n)
    for (let i = 0; i < n; i++) deleted[i] = isDeleted(i) ? true : null
    columns[DELETED_COLUMN] = deleted
  }
  return { rowCount: n, columns }
}

/** Numbers, none null: a Float64Array goes to the column builder as it is (parquet/float64-columns.ts). */
type NumberColumn = readonly number[] | Float64Array

/** The first `n` numbers: a Float64Array as it is, else as a plain array, by a loop (`Array.from` of a typed array walks its iterator). */
function numberArray(numbers: ArrayLike<number>, n: number): NumberColumn {
  if (numbers instanceof Float64Array) return numbers.subarray(0, n)
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = numbers[i]!
  return out
}

/** `featureRowsToColumns` of rows the engine kept as columns (ports/offline.ts `OfflineRowColumns`). */
export function rowColumnsToTable(view: TableView, rows: OfflineRowColumns, seqOf: (offset: string, rowIndex: number) => number | bigint): ColumnarRows {
  const n = rows.length
  const seq = new Array<number | bigint>(n)
  const { offsets, rowIndexes, deleted } = rows
  for (let i = 0; i < n; i++) seq[i] = seqOf(offsets[i]!, rowIndexes[i]!)
  const row = { entity_key: rows.entityKeys, as_of: numberArray(rows.asOfMs, n), created_at: numberArray(rows.createdAtMs, n), seq }
  return featureTableColumns(view, row, (f) => rows.featureColumn(f), (i) => deleted[i] === 1)
}

export function tableRowToStampedRow(view: ReadView, row: Readonly<Record<string, unknown>>): StampedRow {
  return {
    entityKey: row.entity_key as string,
    asOfMs: row.as_of as number,
    createdAtMs: row.created_at as number,
    values: view.features.map((f) => (row[f.name] ?? null) as FeatureValue),
    ...(hasDeletedColumn(view) && row[DELETED_COLUMN] === true ? { deleted: true as const } : {}),
  }
}

export const RAW_ARCHIVE_SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'partition', required: true, type: 'int' },
    { id: 2, name: 'offset', required: true, type: 'long' },
    { id: 3, name: 'event_time', required: false, type: 'timestamptz' },
    { id: 4, name: 'key', required: false, type: 'binary' },
    { id: 5, name: 'schema_id', required: false, type: 'long' },
    { id: 6, name: 'payload', required: false, type: 'binary' },
    { id: 7, name: 'marker_watermark', required: false, type: 'timestamptz' },
    { id: 8, name: 'ingestion_time', required: false, type: 'timestamptz' },
  ],
}

export const RAW_ARCHIVE_PARTITION_SPEC: PartitionSpec = {
  'spec-id': 0,
  fields: [{ name: 'kafka_partition', transform: 'identity', 'source-id': 1, 'field-id': 1000 }],
}

export interface ArchiveRow {
  readonly partition: number
  /** Kafka offset (decimal string on write is fine; reads return a number). */
  readonly offset: string | number | bigint
  readonly event_time: number | null
  readonly key: Uint8Array | null
  readonly schema_id: number | null
  readonly payload: Uint8Array | null
  readonly marker_watermark: number | null
  readonly ingestion_time?: number | null
}

/**
 * Files of one Kafka partition in offset order, from manifest bounds alone. Each kfs commit adds a
 * contiguous offset range per partition, so reading the files in this order yields offset order.
 */
export function archiveFilesInOffsetOrder(files: readonly DataFile[], partition: number): DataFile[] {
  const OFFSET_ID = 2
  return files
    .filter((f) => f.partition[0] === partition)
    .map((f) => ({ f, lo: decodeLongBound(f.lowerBounds?.get(OFFSET_ID)) }))
    .sort((a, b) => (a.lo === undefined || b.lo === undefined ? 0 : a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0))
    .map((x) => x.f)
}
