/**
 * Event → framed Avro bytes for producers (`kfs produce`, tests, the re-keyer). The schema is
 * registered (or found) under `subject` once; every value then carries that id.
 *
 * Unlike the decoder, the encoder throws: an event that does not fit the schema is a bug in the
 * producer, reported with the paths of the offending fields (never their values).
 *
 * Events whose longs are all numbers (nearly all) go through avsc's own long type: the same bytes
 * as the wide type writes, without a BigInt and a buffer per long. Only an event the fast type
 * refuses (a bigint long, or a bad event) takes the wide type and its error report.
 */
import type { Type } from 'avsc'
import { SchemaError } from '../core/errors.ts'
import { frame } from './codec.ts'
import { createFastType, createWideType, parseSchema } from './avro-type.ts'
import type { AvroSchema, SchemaRegistry } from '../ports/schema-registry.ts'

export interface Encoder {
  readonly schemaId: number
  encode(event: unknown): Buffer
}

export async function createEncoder(options: { registry: SchemaRegistry; subject: string; schema: AvroSchema }): Promise<Encoder> {
  const type: Type = createWideType(options.schema)
  const fast: Type = createFastType(options.schema)
  const schemaId = await options.registry.register(options.subject, options.schema)
  const inherited = inheritedFieldNames(options.schema)
  return {
    schemaId,
    encode(given) {
      const event = inherited.length === 0 ? given : withoutInherited(given, inherited)
      if (fast.isValid(event)) return frame(schemaId, fast.toBuffer(event))
      const badPaths: string[] = []
      if (!type.isValid(event, { errorHook: (path: string[]) => badPaths.push(path.join('.') || '(root)') })) {
        throw new SchemaError('SCHEMA_INCOMPATIBLE', `event does not match subject ${options.subject} at: ${badPaths.join(', ')}`, {
          context: { schemaId },
        })
      }
      return frame(schemaId, type.toBuffer(event))
    },
  }
}

/**
 * Top-level fields named like a member of every object (`valueOf`, `constructor`): avsc reads an
 * event's fields by name, so an event that leaves such a field out (its default meant) handed avsc
 * the inherited function, and a valid event was refused naming the field.
 */
function inheritedFieldNames(schema: AvroSchema): readonly string[] {
  const parsed = parseSchema(schema) as { fields?: unknown }
  if (!Array.isArray(parsed.fields)) return []
  const names = parsed.fields.map((f) => (f as { name?: unknown } | null)?.name)
  return names.filter((n): n is string => typeof n === 'string' && n in Object.prototype)
}

/** The event with each such field it does not hold itself made its own, undefined: left out. */
function withoutInherited(event: unknown, names: readonly string[]): unknown {
  if (event === null || typeof event !== 'object' || names.every((n) => Object.hasOwn(event, n))) return event
  const own: Record<string, unknown> = { ...(event as Record<string, unknown>) }
  for (const n of names) if (!Object.hasOwn(own, n)) Object.defineProperty(own, n, { value: undefined, enumerable: true, writable: true, configurable: true })
  return own
}
