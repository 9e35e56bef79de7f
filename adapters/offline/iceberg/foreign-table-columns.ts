/**
 * A foreign Iceberg schema as table-snapshot columns, and Parquet batches as rows of it
 * (docs/design.md §11, value rules in ports/table-snapshots.ts).
 *
 * Columns are matched to a data file's Parquet columns BY NAME: the ParquetCodec port does not
 * expose Parquet field ids. Consequence: a column renamed in Iceberg after a file was written
 * reads as null from that file (Iceberg readers match by id and would find it); a column added
 * later reads as null, as Iceberg's own rule for files without it.
 */
import type { ParquetBatchOfColumns } from '../../../ports/parquet-codec.ts'
import type { TableColumn, TableColumnKind, TableRow } from '../../../ports/table-snapshots.ts'

/** A schema field as foreign writers store it: `type` is a primitive name or a nested type object. */
export interface ForeignField {
  readonly id: number
  readonly name: string
  readonly type: unknown
}

const KIND_OF_PRIMITIVE: Readonly<Record<string, TableColumnKind>> = {
  long: 'long',
  int: 'long',
  float: 'double',
  double: 'double',
  string: 'string',
  boolean: 'boolean',
  timestamp: 'timestamp',
  timestamptz: 'timestamp',
  timestamp_ns: 'timestamp',
  timestamptz_ns: 'timestamp',
  date: 'timestamp',
}

/** decimal, uuid, binary, fixed, time, struct, list, map… are `other`: ingest cannot type them. */
export function kindOfIcebergType(type: unknown): TableColumnKind {
  return typeof type === 'string' ? (KIND_OF_PRIMITIVE[type] ?? 'other') : 'other'
}

export function columnsOfSchema(fields: readonly ForeignField[]): TableColumn[] {
  return fields.map((f) => ({ name: f.name, kind: kindOfIcebergType(f.type) }))
}

/**
 * The Parquet columns to decode from a file with these column names: the readable columns of the
 * snapshot it holds. `other` columns are never decoded, since the codec rejects types it cannot read.
 */
export function projectionOf(columns: readonly TableColumn[], fileColumns: readonly string[]): string[] {
  const present = new Set(fileColumns)
  return columns.filter((c) => c.kind !== 'other' && present.has(c.name)).map((c) => c.name)
}

/**
 * The rows of one batch: every readable column of the snapshot, null when the file lacks it;
 * `other` columns are left out (their values are not read; see `projectionOf`).
 */
export function rowsOfBatch(columns: readonly TableColumn[], batch: ParquetBatchOfColumns): TableRow[] {
  const readable = columns.filter((c) => c.kind !== 'other')
  const rows: TableRow[] = []
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {}
    for (const c of readable) row[c.name] = batch.columns[c.name]?.[i] ?? null
    rows.push(row)
  }
  return rows
}
