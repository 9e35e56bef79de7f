/**
 * The schema registry port: where producers register Avro schemas and the engine looks up the
 * writer schema named by a record's 4-byte id (see `../schemas/codec.ts`).
 *
 * Guarantees (both adapters):
 * - Ids are global and stable: registering a schema that is already registered (under any
 *   subject) returns the id it already has; an id never changes meaning.
 * - Registering under a subject is checked for BACKWARD compatibility against the subject's
 *   latest version; an incompatible schema is refused with `SchemaError` (SCHEMA_INCOMPATIBLE).
 *
 * Failure: `getById` returns undefined for an id the registry does not know (data problem, the
 * caller dead-letters), and throws `SchemaError` SCHEMA_INCOMPATIBLE for an id whose schema is not
 * Avro or not JSON (a data problem too: the id never changes meaning; the decoder dead-letters
 * `schema_mismatch`); an unreachable registry throws a retriable `SourceError`, one that refuses
 * the read for good (access denied) a `SourceError` SOURCE_REJECTED, which no retry repeats.
 */
export type AvroSchema = string | { readonly [key: string]: unknown } | readonly unknown[]

export interface RegisteredSchema {
  readonly id: number
  /** Position in the subject's history, 1-based. */
  readonly version: number
  readonly schema: AvroSchema
}

export interface SchemaRegistry {
  register(subject: string, schema: AvroSchema): Promise<number>
  getById(id: number): Promise<AvroSchema | undefined>
  latest(subject: string): Promise<RegisteredSchema | undefined>
}
