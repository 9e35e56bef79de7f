import { describeGivenValue } from './validate.ts'
import { DefinitionError } from '../core/errors.ts'
import { changeSource, type ChangeSourceOptions } from './change-source.ts'
import { checkEventTimeField } from './source.ts'
import type { SourceDef, TableLocation } from './types.ts'

export interface TableSourceOptions extends ChangeSourceOptions {
  /** Row column holding the row's event time (epoch ms `long`); it becomes each change's `ts_ms`. */
  readonly eventTimeField: string
  /** Where `kfs ingest` reads the table's snapshots. */
  readonly location: TableLocation
}

/**
 * Declares a bounded, re-readable table (Parquet, CSV or Iceberg) with a primary key and an
 * event-time column. `kfs ingest` appends each snapshot's new rows to `topic` as changes
 * (docs/design.md §11); from there on it is a source like any other.
 *
 * @example
 * export const orders = tableSource({
 *   name: 'orders', topic: 'orders', schema: orderRow, keyedBy: order, eventTimeField: 'updated_at',
 *   location: { format: 'parquet', path: 'data/orders' },
 * })
 */
export function tableSource(options: TableSourceOptions): SourceDef {
  return changeSource('table', options, (row, where) => ({
    rowTimeField: checkEventTimeField(row, options.eventTimeField, options.schema, where),
    location: checkLocation(options.location, where),
    format: 'avro',
  }))
}

function checkLocation(location: unknown, where: string): TableLocation {
  const given = location as { format?: unknown; path?: unknown; table?: unknown } | null | undefined
  if (given === null || typeof given !== 'object') {
    throw new DefinitionError(`${where}: location is required, e.g. { format: 'parquet', path: 'data/orders' } or { format: 'iceberg', table: 'shop.orders' }`)
  }
  const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.trim() !== ''
  if (given.format === 'parquet' || given.format === 'csv') {
    if (!nonEmpty(given.path)) throw new DefinitionError(`${where}: location.path must name a ${given.format} file or folder, got ${describeGivenValue(given.path)}`)
    return Object.freeze({ format: given.format, path: given.path })
  }
  if (given.format === 'iceberg') {
    if (!nonEmpty(given.table)) {
      throw new DefinitionError(`${where}: location.table must name the Iceberg table (its catalog name or metadata location), got ${describeGivenValue(given.table)}`)
    }
    return Object.freeze({ format: 'iceberg', table: given.table })
  }
  throw new DefinitionError(`${where}: location.format ${describeGivenValue(given.format)} is not supported; use 'parquet', 'csv' or 'iceberg'`)
}
