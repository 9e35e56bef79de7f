/**
 * Iceberg schema and partition-spec JSON shapes (format v2) used by kfs tables, and their mapping
 * to Parquet columns. Only the types kfs writes are modelled: primitive columns and lists of
 * primitives with required elements.
 */
import { SchemaError } from '../../../core/errors.ts'
import type { ParquetColumn, ParquetColumnType } from '../parquet/index.ts'

export type IcebergPrimitive = 'string' | 'binary' | 'int' | 'long' | 'double' | 'timestamptz' | 'boolean'

export interface IcebergListType {
  readonly type: 'list'
  readonly 'element-id': number
  readonly 'element-required': boolean
  readonly element: IcebergPrimitive
}

export interface IcebergField {
  readonly id: number
  readonly name: string
  readonly required: boolean
  readonly type: IcebergPrimitive | IcebergListType
  readonly doc?: string
}

export interface IcebergSchema {
  readonly type: 'struct'
  readonly 'schema-id': number
  readonly fields: readonly IcebergField[]
  readonly 'identifier-field-ids'?: readonly number[]
}

export interface PartitionField {
  readonly name: string
  readonly transform: string
  readonly 'source-id': number
  readonly 'field-id': number
}

export interface PartitionSpec {
  readonly 'spec-id': number
  readonly fields: readonly PartitionField[]
}

export const UNPARTITIONED: PartitionSpec = { 'spec-id': 0, fields: [] }

/** `day(<column>)`, the only transform kfs writes; field id 1000 as Java assigns it. */
export function dayPartitionSpec(schema: IcebergSchema, column: string): PartitionSpec {
  const source = schema.fields.find((f) => f.name === column)
  if (source === undefined || source.type !== 'timestamptz') {
    throw new SchemaError('SCHEMA_INCOMPATIBLE', `day partition needs a timestamptz column, got ${column}`)
  }
  return { 'spec-id': 0, fields: [{ name: `${column}_day`, transform: 'day', 'source-id': source.id, 'field-id': 1000 }] }
}

export function lastColumnId(schema: IcebergSchema): number {
  let max = 0
  for (const f of schema.fields) {
    max = Math.max(max, f.id)
    if (typeof f.type === 'object') max = Math.max(max, f.type['element-id'])
  }
  return max
}

export function validateSchema(schema: IcebergSchema): void {
  const ids = new Set<number>()
  const names = new Set<string>()
  const claim = (id: number): void => {
    if (!Number.isInteger(id) || id <= 0 || ids.has(id)) throw new SchemaError('SCHEMA_INCOMPATIBLE', `duplicate or invalid field id ${id}`)
    ids.add(id)
  }
  for (const f of schema.fields) {
    claim(f.id)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name) || names.has(f.name)) {
      throw new SchemaError('SCHEMA_INCOMPATIBLE', `invalid or duplicate column name ${f.name}`)
    }
    names.add(f.name)
    if (typeof f.type === 'object') {
      claim(f.type['element-id'])
      if (!f.type['element-required']) throw new SchemaError('SCHEMA_INCOMPATIBLE', `list ${f.name}: kfs writes required elements only`)
    }
  }
}

export function parquetColumnsOf(schema: IcebergSchema): ParquetColumn[] {
  return schema.fields.map((f) => {
    if (typeof f.type === 'string') return { name: f.name, type: f.type, fieldId: f.id, required: f.required }
    const listType = `list<${f.type.element}>` as ParquetColumnType
    if (listType !== 'list<string>' && listType !== 'list<long>' && listType !== 'list<double>') {
      throw new SchemaError('SCHEMA_INCOMPATIBLE', `unsupported list element ${f.type.element}`)
    }
    return { name: f.name, type: listType, fieldId: f.id, elementId: f.type['element-id'], required: f.required }
  })
}

/** `schema.name-mapping.default`: a safety net for readers meeting a file without field ids. */
export function nameMappingOf(schema: IcebergSchema): string {
  return JSON.stringify(
    schema.fields.map((f) =>
      typeof f.type === 'object'
        ? { 'field-id': f.id, names: [f.name], fields: [{ 'field-id': f.type['element-id'], names: ['element'] }] }
        : { 'field-id': f.id, names: [f.name] },
    ),
  )
}
