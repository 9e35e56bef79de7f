/**
 * The column model of kfs Parquet files and its mapping to Arrow / Parquet types.
 *
 * JS value representation (both directions):
 * | column type   | Parquet                                   | JS value written            | JS value read                       |
 * |---------------|-------------------------------------------|-----------------------------|-------------------------------------|
 * | `string`      | BYTE_ARRAY STRING                         | string                      | string                              |
 * | `binary`      | BYTE_ARRAY                                | Uint8Array                  | Uint8Array                          |
 * | `int`         | INT32                                     | number (safe 32-bit int)    | number                              |
 * | `long`        | INT64                                     | number, bigint or decimal string | number (bigint if `longAs: 'bigint'`) |
 * | `double`      | DOUBLE                                    | number                      | number                              |
 * | `timestamptz` | INT64 TIMESTAMP(MICROS, isAdjustedToUTC)  | epoch **ms** number         | epoch ms number (µs floored to ms)  |
 * | `boolean`     | BOOLEAN                                   | boolean                     | boolean                             |
 * | `list<T>`     | 3-level LIST, elements required           | array of T                  | array of T                          |
 *
 * `long` reads as `number` by default because feature values and Kafka offsets stay far below
 * 2^53; a stored value beyond that is reported instead of being rounded (use `longAs: 'bigint'`).
 * Every column and every list element carries its Iceberg field id as Parquet `field_id` (set
 * through Arrow field metadata `PARQUET:field_id`, which the arrow-rs writer inside parquet-wasm
 * copies into the footer).
 */
import * as arrow from 'apache-arrow'
import type { ParquetColumnType, ParquetScalarType } from '../../../ports/parquet-codec.ts'

// The port's column model is this adapter's: one definition, so the two cannot drift apart.
export type { ParquetColumnType, ParquetScalarType }

export interface ParquetColumn {
  readonly name: string
  readonly type: ParquetColumnType
  /** Iceberg field id of the column. */
  readonly fieldId: number
  readonly required: boolean
  /** Iceberg element id; required for list columns. */
  readonly elementId?: number
}

const FIELD_ID_KEY = 'PARQUET:field_id'

function idMeta(id: number): Map<string, string> {
  return new Map([[FIELD_ID_KEY, String(id)]])
}

export function elementTypeOf(type: ParquetColumnType): ParquetScalarType | undefined {
  switch (type) {
    case 'list<string>':
      return 'string'
    case 'list<long>':
      return 'long'
    case 'list<double>':
      return 'double'
    default:
      return undefined
  }
}

export function arrowScalarType(type: ParquetScalarType): arrow.DataType {
  switch (type) {
    case 'string':
      return new arrow.Utf8()
    case 'binary':
      return new arrow.Binary()
    case 'int':
      return new arrow.Int32()
    case 'long':
      return new arrow.Int64()
    case 'double':
      return new arrow.Float64()
    case 'timestamptz':
      return new arrow.TimestampMicrosecond('UTC')
    case 'boolean':
      return new arrow.Bool()
  }
}

export function arrowFieldOf(column: ParquetColumn): arrow.Field {
  const element = elementTypeOf(column.type)
  if (element === undefined) {
    return new arrow.Field(column.name, arrowScalarType(column.type as ParquetScalarType), !column.required, idMeta(column.fieldId))
  }
  if (column.elementId === undefined) throw new TypeError(`list column ${column.name} needs an elementId`)
  const child = new arrow.Field('element', arrowScalarType(element), false, idMeta(column.elementId))
  return new arrow.Field(column.name, new arrow.List(child), !column.required, idMeta(column.fieldId))
}

export function arrowSchemaOf(columns: readonly ParquetColumn[]): arrow.Schema {
  return new arrow.Schema(columns.map(arrowFieldOf))
}
