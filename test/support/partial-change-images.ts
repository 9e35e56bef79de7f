/**
 * The before images a Debezium changelog carries when the table does not log full rows: Postgres
 * under REPLICA IDENTITY DEFAULT sends an update with no before image and a delete with only its
 * primary key — the other columns as nulls where the column is nullable (an optional field of
 * Debezium's schema) and as the type's fallback where it is NOT NULL ('' for strings, 0 for
 * numbers, false for booleans). docs/table-and-changelog-sources.md, "Partial images".
 */
import type { AvroRecordSchema } from '../../features/types.ts'

/** Full row images, or what REPLICA IDENTITY DEFAULT logs. */
export type ChangeImages = 'full' | 'partial'

/** A row image: its columns by name. */
type Row = object

/** What Debezium puts in a column a key-only image does not log. */
function unloggedValue(type: unknown): unknown {
  if (Array.isArray(type)) return type.includes('null') ? null : unloggedValue(type[0])
  const name = typeof type === 'object' && type !== null ? (type as { type: unknown }).type : type
  if (name === 'string' || name === 'bytes') return ''
  if (name === 'boolean') return false
  if (name === 'int' || name === 'long' || name === 'float' || name === 'double') return 0
  return null
}

/** A key-only before image of `row`: its primary key's values, every other column unlogged. */
export function keyOnlyImage(row: Row, schema: AvroRecordSchema, primaryKey: readonly string[]): Row {
  const fields = schema.fields as readonly { readonly name: string; readonly type: unknown }[]
  return Object.fromEntries(
    fields.map((f) => [f.name, primaryKey.includes(f.name) ? (row as Record<string, unknown>)[f.name] : unloggedValue(f.type)]),
  )
}

/** The before image a change of `op` carries under `images`. */
export function beforeImageOf(
  op: string,
  before: Row | null,
  images: ChangeImages,
  schema: AvroRecordSchema,
  primaryKey: readonly string[],
): Row | null {
  if (images === 'full' || before === null) return before
  if (op === 'u') return null
  return op === 'd' ? keyOnlyImage(before, schema, primaryKey) : before
}
