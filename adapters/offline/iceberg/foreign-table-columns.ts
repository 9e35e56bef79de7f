/**
 * A foreign Iceberg schema as table-snapshot columns, and Parquet batches as rows of it
 * (docs/design.md §11, value rules in ports/table-snapshots.ts).
 *
 * Columns are matched to a data file's Parquet columns by Iceberg field id, as Iceberg readers
 * do, when the file carries ids (every Iceberg writer sets them): a column renamed since the file
 * was written is found under its old name, and a column dropped and added again under the same
 * name (a new id) is not read from files holding the old one. A file without ids (an imported
 * one) is matched by name. A column the file does not hold reads as null, Iceberg's rule for a
 * column added later.
 */
import type { ParquetCompactBatch } from '../../../ports/parquet-codec.ts'
import type { TableColumn, TableColumnKind, TableRow } from '../../../ports/table-snapshots.ts'
import { ownValue } from '../../../core/own-property.ts'

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
  return typeof type === 'string' ? (ownValue(KIND_OF_PRIMITIVE, type) ?? 'other') : 'other'
}

export function columnsOfSchema(fields: readonly ForeignField[]): TableColumn[] {
  return fields.map((f) => ({ name: f.name, kind: kindOfIcebergType(f.type) }))
}

/** A data file's column as its footer names it. */
export interface FileColumn {
  readonly name: string
  readonly fieldId?: number
}

/**
 * For each readable column of the snapshot (`fields`, in order) that the file holds, the file's
 * name for it (see the header: by field id when the file has ids, else by name). `other` columns
 * are never decoded, since the codec rejects types it cannot read.
 */
export function fileNamesOf(fields: readonly ForeignField[], fileColumns: readonly FileColumn[]): Map<string, string> {
  const byId = fileColumns.some((c) => c.fieldId !== undefined)
  const found = new Map<string | number, string>(fileColumns.map((c) => [byId ? (c.fieldId ?? c.name) : c.name, c.name]))
  const names = new Map<string, string>()
  for (const f of fields) {
    const name = kindOfIcebergType(f.type) === 'other' ? undefined : found.get(byId ? f.id : f.name)
    if (name !== undefined) names.set(f.name, name)
  }
  return names
}

/**
 * The rows of one batch: every readable column of the snapshot, read from the file's column
 * `fileNames` gives (./fileNamesOf), null when there is none; `other` columns are left out.
 */
export function rowsOfBatch(
  columns: readonly TableColumn[],
  batch: ParquetCompactBatch,
  fileNames: ReadonlyMap<string, string>,
): TableRow[] {
  const readable = columns.filter((c) => c.kind !== 'other')
  const values = readable.map((c) => {
    const name = fileNames.get(c.name)
    return name === undefined ? undefined : batch.columns[name]
  })
  const rows: TableRow[] = []
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {}
    for (let c = 0; c < readable.length; c++) row[readable[c]!.name] = values[c]?.[i] ?? null
    rows.push(row)
  }
  return rows
}
