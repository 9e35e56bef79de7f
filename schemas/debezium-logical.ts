/**
 * The logical types of a Debezium JSON message's images, where its `{schema, payload}` wrapper
 * says them: the JSON converter's schema names each column's Connect semantic type
 * (`io.debezium.time.MicroTimestamp`, `org.apache.kafka.connect.data.Decimal` with its scale…),
 * and a plain JSON number does not say its unit. Each top-level column is paired with the row
 * schema's logical type exactly as the Avro decoder pairs a writer's (logical-types.ts): the same
 * value, converted to the row schema's unit, or the change refused `schema_mismatch` naming the
 * column. A message without the wrapper says nothing: its numbers are read in the row schema's
 * units, as before.
 */
import type { AvroRecordSchema } from '../features/types.ts'
import { isJsonObject } from '../core/json-object.ts'
import { ownValue } from '../core/own-property.ts'
import { connectLogical, describeLogical, logicalOf, LogicalOverflow, pairLogical, type Logical } from './logical-types.ts'

/** Connect's types as the Avro types a column of them is written as. */
const AVRO_OF_CONNECT: Readonly<Record<string, string>> = {
  int8: 'int',
  int16: 'int',
  int32: 'int',
  int64: 'long',
  float32: 'float',
  float64: 'double',
  boolean: 'boolean',
  string: 'string',
  bytes: 'bytes',
}

interface ReaderColumn {
  readonly logical: Logical | undefined
  readonly type: string
}

/** Checks (and converts in place) one conformed image; a string says why it is refused. */
export type ImageLogic = (wrapperSchema: unknown, part: 'before' | 'after', image: Record<string, unknown>) => string | undefined

export function imageLogic(rowSchema: AvroRecordSchema): ImageLogic {
  const columns = new Map<string, ReaderColumn>()
  for (const f of rowSchema.fields as readonly { name: string; type: unknown }[]) {
    const t = Array.isArray(f.type) && f.type.length === 2 && f.type.includes('null') ? f.type.find((b) => b !== 'null') : f.type
    const type = typeof t === 'string' ? t : isJsonObject(t) && typeof t.type === 'string' ? t.type : undefined
    if (type !== undefined) columns.set(f.name, { logical: logicalOf(t), type })
  }
  return (wrapperSchema, part, image) => {
    for (const written of connectColumns(wrapperSchema, part)) {
      const column = columns.get(written.field)
      if (column === undefined || !(written.field in image)) continue
      const writerType = ownValue(AVRO_OF_CONNECT, written.type) ?? written.type
      const writer = writerLogical(written, writerType)
      const pairing = pairLogical(writer, writerType, column.logical, column.type)
      const at = `${part}.${written.field}`
      if (pairing.kind === 'refuse') {
        return `${at}: the message schema's ${describeLogical(writer, writerType)} (${written.name}) cannot be read as the row schema's ${describeLogical(column.logical, column.type)}: ${pairing.why}`
      }
      const value = image[written.field]
      if (pairing.kind !== 'convert' || (typeof value !== 'number' && typeof value !== 'bigint')) continue
      try {
        image[written.field] = pairing.convert(value)
      } catch (err: unknown) {
        if (!(err instanceof LogicalOverflow)) throw err
        return `${at}: the message schema's ${pairing.from} ${err.message} as the row schema's ${pairing.to}`
      }
    }
    return undefined
  }
}

interface ConnectColumn {
  readonly field: string
  readonly type: string
  readonly name: string
  readonly parameters: Record<string, unknown>
}

/** The named columns of the wrapper schema's `before` or `after` struct. */
function connectColumns(wrapperSchema: unknown, part: 'before' | 'after'): ConnectColumn[] {
  if (!isJsonObject(wrapperSchema) || !Array.isArray(wrapperSchema.fields)) return []
  const struct = (wrapperSchema.fields as unknown[]).find((f) => isJsonObject(f) && f.field === part)
  if (!isJsonObject(struct) || !Array.isArray(struct.fields)) return []
  return (struct.fields as unknown[]).flatMap((f) =>
    isJsonObject(f) && typeof f.field === 'string' && typeof f.type === 'string' && typeof f.name === 'string'
      ? [{ field: f.field, type: f.type, name: f.name, parameters: isJsonObject(f.parameters) ? f.parameters : {} }]
      : [],
  )
}

/** A Connect Decimal says its scale, and its precision only sometimes (then only the scale is held to the row schema's). */
function writerLogical(written: ConnectColumn, writerType: string): Logical | undefined {
  if (written.name !== 'org.apache.kafka.connect.data.Decimal' || writerType !== 'bytes')
    return connectLogical(written.name, writerType)
  const scale = Number(written.parameters.scale ?? 0)
  const precision = Number(written.parameters['connect.decimal.precision'])
  return Number.isInteger(precision) && precision > 0 ? { name: 'decimal', precision, scale } : { name: 'decimal', scale }
}
