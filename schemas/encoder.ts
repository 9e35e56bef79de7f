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
import { createFastType, createWideType } from './avro-type.ts'
import type { AvroSchema, SchemaRegistry } from '../ports/schema-registry.ts'

export interface Encoder {
  readonly schemaId: number
  encode(event: unknown): Buffer
}

export async function createEncoder(options: { registry: SchemaRegistry; subject: string; schema: AvroSchema }): Promise<Encoder> {
  const type: Type = createWideType(options.schema)
  const fast: Type = createFastType(options.schema)
  const schemaId = await options.registry.register(options.subject, options.schema)
  return {
    schemaId,
    encode(event) {
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
