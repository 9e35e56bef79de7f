/**
 * Reads an `.avsc` file (JSON) as an Avro record schema. Definition modules use it so the schema
 * lives in one file that producers, the schema registry and feature definitions share.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SchemaError } from '../../core/errors.ts'
import type { AvroRecordSchema } from '../../features/types.ts'

export function readAvroSchema(file: URL | string): AvroRecordSchema {
  const path = file instanceof URL ? fileURLToPath(file) : file
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err: unknown) {
    throw new SchemaError('SCHEMA_UNKNOWN', `cannot read Avro schema ${path}: ${(err as Error).message}`, { cause: err })
  }
  const s = parsed as Partial<AvroRecordSchema> | null
  if (s === null || typeof s !== 'object' || s.type !== 'record' || typeof s.name !== 'string' || !Array.isArray(s.fields)) {
    throw new SchemaError('SCHEMA_UNKNOWN', `${path} is not an Avro record schema ({ "type": "record", "name", "fields" })`)
  }
  return s as AvroRecordSchema
}
