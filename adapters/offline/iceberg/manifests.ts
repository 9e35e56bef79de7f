/**
 * Manifests and manifest lists (Avro, Iceberg v2), following notes/iceberg.md §3–§4 field for
 * field: ids in `field-id`/`element-id` attributes, int-keyed maps as arrays of `k<id>_v<id>`
 * records, nested records named `r<field-id>`, optional fields as `["null", T]` with default null.
 *
 * Partition values: kfs writes `day` (→ date, days since epoch) and `identity` on int columns;
 * both are Avro int, so a partition tuple is `(number | null)[]` in spec order.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import { runSteps, type Steps } from '../../../core/steps.ts'
import { decodeAvroContainer, decodeAvroContainerSteps, encodeAvroContainer, encodeAvroContainerSteps } from './avro-container.ts'
import type { IcebergSchema, PartitionSpec } from './iceberg-schema.ts'
import { stringifyJson } from './lossless-json.ts'

export interface DataFile {
  /** Absolute URI, as stored in the manifest. */
  readonly filePath: string
  readonly fileFormat: 'PARQUET'
  /** Partition values in spec order (days since epoch for `day`). */
  readonly partition: readonly (number | null)[]
  readonly recordCount: number
  readonly fileSizeInBytes: number
  readonly columnSizes?: ReadonlyMap<number, number>
  readonly valueCounts?: ReadonlyMap<number, number>
  readonly nullValueCounts?: ReadonlyMap<number, number>
  readonly nanValueCounts?: ReadonlyMap<number, number>
  readonly lowerBounds?: ReadonlyMap<number, Uint8Array>
  readonly upperBounds?: ReadonlyMap<number, Uint8Array>
}

export type EntryStatus = 0 | 1 | 2 // existing, added, deleted

export interface ManifestEntry {
  readonly status: EntryStatus
  readonly snapshotId: bigint | null
  /** null = inherited from the manifest list entry (only for status 1). */
  readonly sequenceNumber: bigint | null
  readonly fileSequenceNumber: bigint | null
  readonly dataFile: DataFile
}

export interface ManifestFile {
  readonly manifestPath: string
  readonly manifestLength: bigint
  readonly partitionSpecId: number
  readonly content: number
  readonly sequenceNumber: bigint
  readonly minSequenceNumber: bigint
  readonly addedSnapshotId: bigint
  readonly addedFilesCount: number
  readonly existingFilesCount: number
  readonly deletedFilesCount: number
  readonly addedRowsCount: bigint
  readonly existingRowsCount: bigint
  readonly deletedRowsCount: bigint
  readonly partitions: readonly { containsNull: boolean; containsNan: boolean | null; lowerBound: Uint8Array | null; upperBound: Uint8Array | null }[] | null
}

const opt = (type: unknown, id: number, name: string): object => ({ name, type: ['null', type], default: null, 'field-id': id })
const intMap = (name: string, id: number, k: number, v: number, valueType: string): object =>
  opt({ type: 'array', logicalType: 'map', items: { type: 'record', name: `k${k}_v${v}`, fields: [{ name: 'key', type: 'int', 'field-id': k }, { name: 'value', type: valueType, 'field-id': v }] } }, id, name)

function partitionRecord(spec: PartitionSpec): object {
  return {
    type: 'record',
    name: 'r102',
    fields: spec.fields.map((f) => opt(f.transform === 'day' ? { type: 'int', logicalType: 'date' } : 'int', f['field-id'], f.name)),
  }
}

export function manifestEntrySchema(spec: PartitionSpec): object {
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      opt('long', 1, 'snapshot_id'),
      opt('long', 3, 'sequence_number'),
      opt('long', 4, 'file_sequence_number'),
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: partitionRecord(spec), 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            intMap('column_sizes', 108, 117, 118, 'long'),
            intMap('value_counts', 109, 119, 120, 'long'),
            intMap('null_value_counts', 110, 121, 122, 'long'),
            intMap('nan_value_counts', 137, 138, 139, 'long'),
            intMap('lower_bounds', 125, 126, 127, 'bytes'),
            intMap('upper_bounds', 128, 129, 130, 'bytes'),
            opt('bytes', 131, 'key_metadata'),
            opt({ type: 'array', items: 'long', 'element-id': 133 }, 132, 'split_offsets'),
            opt({ type: 'array', items: 'int', 'element-id': 136 }, 135, 'equality_ids'),
            opt('int', 140, 'sort_order_id'),
          ],
        },
      },
    ],
  }
}

export const MANIFEST_LIST_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    opt(
      {
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            opt('boolean', 518, 'contains_nan'),
            opt('bytes', 510, 'lower_bound'),
            opt('bytes', 511, 'upper_bound'),
          ],
        },
      },
      507,
      'partitions',
    ),
    opt('bytes', 519, 'key_metadata'),
  ],
}

type KV<V> = { key: number; value: V }
const toKv = <V, W>(m: ReadonlyMap<number, V> | undefined, f: (v: V) => W): KV<W>[] | null =>
  m === undefined ? null : [...m].sort((a, b) => a[0] - b[0]).map(([key, value]) => ({ key, value: f(value) }))
const fromKv = <V, W>(a: KV<V>[] | null, f: (v: V) => W): Map<number, W> | undefined => (a === null ? undefined : new Map(a.map((e) => [e.key, f(e.value)])))

export function encodeManifest(schema: IcebergSchema, spec: PartitionSpec, entries: readonly ManifestEntry[]): Uint8Array {
  return runSteps(encodeManifestSteps(schema, spec, entries))
}

/** Entries converted, and then encoded, in slices of this many between pauses. */
const ENTRIES_PER_STEP = 1000

/** encodeManifest in steps (avro-container.ts: a merged manifest is tens of thousands of entries). */
export function* encodeManifestSteps(schema: IcebergSchema, spec: PartitionSpec, entries: readonly ManifestEntry[]): Steps<Uint8Array> {
  const records: unknown[] = []
  for (let start = 0; start < entries.length; start += ENTRIES_PER_STEP) {
    for (const e of entries.slice(start, start + ENTRIES_PER_STEP)) records.push(manifestRecordOf(spec, e))
    yield
  }
  return yield* encodeAvroContainerSteps(manifestEntrySchema(spec), records, {
    schema: stringifyJson(schema),
    'schema-id': String(schema['schema-id']),
    'partition-spec': stringifyJson(spec.fields),
    'partition-spec-id': String(spec['spec-id']),
    'format-version': '2',
    content: 'data',
  })
}

function manifestRecordOf(spec: PartitionSpec, e: ManifestEntry): unknown {
  const f = e.dataFile
  if (f.partition.length !== spec.fields.length) throw new SinkWriteError('SINK_REJECTED', 'data file partition does not match the spec')
  const partition: Record<string, number | null> = {}
  spec.fields.forEach((pf, i) => (partition[pf.name] = f.partition[i] ?? null))
  return {
    status: e.status,
    snapshot_id: e.snapshotId,
    sequence_number: e.sequenceNumber,
    file_sequence_number: e.fileSequenceNumber,
    data_file: {
      content: 0,
      file_path: f.filePath,
      file_format: f.fileFormat,
      partition,
      record_count: BigInt(f.recordCount),
      file_size_in_bytes: BigInt(f.fileSizeInBytes),
      column_sizes: toKv(f.columnSizes, BigInt),
      value_counts: toKv(f.valueCounts, BigInt),
      null_value_counts: toKv(f.nullValueCounts, BigInt),
      nan_value_counts: toKv(f.nanValueCounts, BigInt),
      lower_bounds: toKv(f.lowerBounds, (b) => Buffer.from(b)),
      upper_bounds: toKv(f.upperBounds, (b) => Buffer.from(b)),
      key_metadata: null,
      split_offsets: null,
      equality_ids: null,
      sort_order_id: 0,
    },
  }
}

interface RawEntry {
  status: number
  snapshot_id: bigint | null
  sequence_number: bigint | null
  file_sequence_number: bigint | null
  data_file: {
    content: number
    file_path: string
    file_format: string
    partition: Record<string, number | null>
    record_count: bigint
    file_size_in_bytes: bigint
    column_sizes: KV<bigint>[] | null
    value_counts: KV<bigint>[] | null
    null_value_counts: KV<bigint>[] | null
    nan_value_counts?: KV<bigint>[] | null
    lower_bounds: KV<Buffer>[] | null
    upper_bounds: KV<Buffer>[] | null
  }
}

/** Entries of a manifest; partition values are returned in `spec` order. */
export function decodeManifest(bytes: Uint8Array, spec: PartitionSpec, where?: string): ManifestEntry[] {
  return runSteps(decodeManifestSteps(bytes, spec, where))
}

/** decodeManifest in steps (as encodeManifestSteps). */
export function* decodeManifestSteps(bytes: Uint8Array, spec: PartitionSpec, where?: string): Steps<ManifestEntry[]> {
  const records = (yield* decodeAvroContainerSteps(bytes, where)).records as RawEntry[]
  const out: ManifestEntry[] = []
  for (let start = 0; start < records.length; start += ENTRIES_PER_STEP) {
    for (const r of records.slice(start, start + ENTRIES_PER_STEP)) out.push(manifestEntryOf(spec, r))
    yield
  }
  return out
}

function manifestEntryOf(spec: PartitionSpec, r: RawEntry): ManifestEntry {
  const d = r.data_file
  if (d.content !== 0) throw new SinkWriteError('SINK_REJECTED', 'delete files are not supported by the kfs reader')
  if (d.file_format.toUpperCase() !== 'PARQUET') throw new SinkWriteError('SINK_REJECTED', `unsupported data file format ${d.file_format}`)
  const dataFile: DataFile = {
    filePath: d.file_path,
    fileFormat: 'PARQUET',
    partition: spec.fields.map((pf) => d.partition[pf.name] ?? null),
    recordCount: Number(d.record_count),
    fileSizeInBytes: Number(d.file_size_in_bytes),
    columnSizes: fromKv(d.column_sizes, Number),
    valueCounts: fromKv(d.value_counts, Number),
    nullValueCounts: fromKv(d.null_value_counts, Number),
    nanValueCounts: fromKv(d.nan_value_counts ?? null, Number),
    lowerBounds: fromKv(d.lower_bounds, (b) => new Uint8Array(b)),
    upperBounds: fromKv(d.upper_bounds, (b) => new Uint8Array(b)),
  }
  return { status: r.status as EntryStatus, snapshotId: r.snapshot_id, sequenceNumber: r.sequence_number, fileSequenceNumber: r.file_sequence_number, dataFile }
}

export function encodeManifestList(
  manifests: readonly ManifestFile[],
  header: { snapshotId: bigint; parentSnapshotId: bigint | undefined; sequenceNumber: number },
): Uint8Array {
  const records = manifests.map((m) => ({
    manifest_path: m.manifestPath,
    manifest_length: m.manifestLength,
    partition_spec_id: m.partitionSpecId,
    content: m.content,
    sequence_number: m.sequenceNumber,
    min_sequence_number: m.minSequenceNumber,
    added_snapshot_id: m.addedSnapshotId,
    added_files_count: m.addedFilesCount,
    existing_files_count: m.existingFilesCount,
    deleted_files_count: m.deletedFilesCount,
    added_rows_count: m.addedRowsCount,
    existing_rows_count: m.existingRowsCount,
    deleted_rows_count: m.deletedRowsCount,
    partitions:
      m.partitions === null
        ? null
        : m.partitions.map((p) => ({
            contains_null: p.containsNull,
            contains_nan: p.containsNan,
            lower_bound: p.lowerBound === null ? null : Buffer.from(p.lowerBound),
            upper_bound: p.upperBound === null ? null : Buffer.from(p.upperBound),
          })),
    key_metadata: null,
  }))
  return encodeAvroContainer(MANIFEST_LIST_SCHEMA, records, {
    'snapshot-id': String(header.snapshotId),
    'parent-snapshot-id': header.parentSnapshotId === undefined ? 'null' : String(header.parentSnapshotId),
    'sequence-number': String(header.sequenceNumber),
    'format-version': '2',
  })
}

export function decodeManifestList(bytes: Uint8Array, where?: string): ManifestFile[] {
  const file = decodeAvroContainer(bytes, where)
  return (file.records as Record<string, unknown>[]).map((r) => {
    const parts = r.partitions as { contains_null: boolean; contains_nan?: boolean | null; lower_bound: Buffer | null; upper_bound: Buffer | null }[] | null
    return {
      manifestPath: r.manifest_path as string,
      manifestLength: r.manifest_length as bigint,
      partitionSpecId: r.partition_spec_id as number,
      content: (r.content as number | undefined) ?? 0,
      sequenceNumber: (r.sequence_number as bigint | undefined) ?? 0n,
      minSequenceNumber: (r.min_sequence_number as bigint | undefined) ?? 0n,
      addedSnapshotId: r.added_snapshot_id as bigint,
      addedFilesCount: r.added_files_count as number,
      existingFilesCount: r.existing_files_count as number,
      deletedFilesCount: r.deleted_files_count as number,
      addedRowsCount: r.added_rows_count as bigint,
      existingRowsCount: r.existing_rows_count as bigint,
      deletedRowsCount: r.deleted_rows_count as bigint,
      partitions:
        parts === null
          ? null
          : parts.map((p) => ({
              containsNull: p.contains_null,
              containsNan: p.contains_nan ?? null,
              lowerBound: p.lower_bound === null ? null : new Uint8Array(p.lower_bound),
              upperBound: p.upper_bound === null ? null : new Uint8Array(p.upper_bound),
            })),
    }
  })
}

/** Partition summaries for a manifest list entry: 4-byte little-endian int bounds per field. */
export function partitionSummaries(spec: PartitionSpec, files: readonly DataFile[]): NonNullable<ManifestFile['partitions']> {
  return spec.fields.map((_, i) => {
    let containsNull = false
    let lo: number | undefined
    let hi: number | undefined
    for (const f of files) {
      const v = f.partition[i]
      if (v === null || v === undefined) containsNull = true
      else {
        lo = lo === undefined || v < lo ? v : lo
        hi = hi === undefined || v > hi ? v : hi
      }
    }
    return { containsNull, containsNan: false, lowerBound: lo === undefined ? null : int32Le(lo), upperBound: hi === undefined ? null : int32Le(hi) }
  })
}

export function int32Le(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setInt32(0, v, true)
  return b
}
