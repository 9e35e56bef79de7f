/**
 * The `SchemaRegistry` port over a Confluent-compatible REST registry (Confluent Schema Registry,
 * or Apicurio's `/apis/ccompat/v7`), through @kafkajs/confluent-schema-registry — the only module
 * that imports it.
 *
 * - `register` asks for BACKWARD compatibility on the subject (set on first registration when the
 *   subject has no config); a 409 from the registry is `SchemaError` SCHEMA_INCOMPATIBLE.
 * - `getById` / `latest` return undefined on 404. `getById` of an id whose schema is not Avro (a
 *   JSON Schema or Protobuf schema: another serializer on the topic) or whose text is not JSON is
 *   `SchemaError` SCHEMA_INCOMPATIBLE — an answer, not a fault: asking again cannot change it.
 * - Transport failures (after the client's own bounded retries) are a retriable `SourceError`; a
 *   refusal that asking again will not change (401, 403, another 4xx but 404/408/429) is
 *   SOURCE_REJECTED, which no retry repeats.
 */
import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry'
import type { Type } from 'avsc'
import { SchemaError, SourceError } from '../../../core/errors.ts'
import type { AvroSchema, RegisteredSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'

export interface ConfluentSchemaRegistryOptions {
  /** Base URL, e.g. `http://127.0.0.1:18081/apis/ccompat/v7`. */
  readonly url: string
  /** Retries per request for transport errors and 5xx. Default 3. */
  readonly retries?: number
}

/** The package keeps its REST resources private; `latest` needs the version it returns, `getById` the schema's type. */
interface RestApi {
  api: {
    Subject: { latestVersion(args: { subject: string }): Promise<{ data(): { id: number; version: number; schema: string } }> }
    Schema: { find(args: { id: number }): Promise<{ data(): { schema: string; schemaType?: string; references?: readonly unknown[] } }> }
  }
}

export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly #client: ConfluentClient

  constructor(options: ConfluentSchemaRegistryOptions) {
    this.#client = new ConfluentClient({ host: options.url.replace(/\/+$/, ''), retry: { retries: options.retries ?? 3 } })
  }

  async register(subject: string, schema: AvroSchema): Promise<number> {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema)
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await this.#client.register(
          { type: SchemaType.AVRO, schema: text },
          { subject, compatibility: COMPATIBILITY.BACKWARD, updateConfig: true },
        )
        return id
      } catch (err: unknown) {
        // A conflict may be another process registering the same schema under a new subject at
        // the same moment (two `kfs ingest` of one source starting together): asked again, the
        // registry finds it registered and answers its id. An incompatible schema stays refused.
        if (!isConflict(err) || attempt === CONFLICT_ATTEMPTS) throw registerFailure(subject, err)
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
      }
    }
  }

  async getById(id: number): Promise<AvroSchema | undefined> {
    let found: { schema: string; schemaType?: string; references?: readonly unknown[] }
    try {
      found = (await (this.#client as unknown as RestApi).api.Schema.find({ id })).data()
    } catch (err: unknown) {
      if (statusOf(err) === 404) return undefined
      throw unavailable('getById', err)
    }
    const kind = found.schemaType ?? 'AVRO'
    if (kind !== 'AVRO') throw new SchemaError('SCHEMA_INCOMPATIBLE', `schema id ${id} is a ${kind} schema, not Avro`, { context: { id } })
    // References name types of other subjects: the client resolves them into one schema.
    if ((found.references ?? []).length > 0) return this.#withReferences(id)
    try {
      return JSON.parse(found.schema) as AvroSchema
    } catch (err: unknown) {
      throw new SchemaError('SCHEMA_INCOMPATIBLE', `schema id ${id} is not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err, context: { id } })
    }
  }

  async #withReferences(id: number): Promise<AvroSchema | undefined> {
    try {
      const type = (await this.#client.getSchema(id)) as unknown as Type
      return type.schema({ exportAttrs: true }) as AvroSchema
    } catch (err: unknown) {
      if (statusOf(err) === 404) return undefined
      throw unavailable('getById', err)
    }
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    try {
      const response = await (this.#client as unknown as RestApi).api.Subject.latestVersion({ subject })
      const { id, version, schema } = response.data()
      return { id, version, schema: JSON.parse(schema) as AvroSchema }
    } catch (err: unknown) {
      if (statusOf(err) === 404) return undefined
      throw unavailable('latest', err)
    }
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}

function unavailable(operation: string, err: unknown): SourceError {
  const status = statusOf(err)
  const refused = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429
  return new SourceError(refused ? 'SOURCE_REJECTED' : 'SOURCE_UNAVAILABLE', `schema registry ${operation} failed`, { cause: err, context: { operation, status: statusOf(err) } })
}

/** Register asks that a conflict ends after: a race of first registrations settles on the second. */
const CONFLICT_ATTEMPTS = 3

function isConflict(err: unknown): boolean {
  return statusOf(err) === 409 || (err instanceof Error && err.name === 'ConfluentSchemaRegistryCompatibilityError')
}

function registerFailure(subject: string, err: unknown): Error {
  const status = statusOf(err)
  if (status === 422 || isConflict(err)) {
    return new SchemaError('SCHEMA_INCOMPATIBLE', `subject ${subject}: the registry refused the schema`, { cause: err, context: { status } })
  }
  if (err instanceof Error && err.name.startsWith('ConfluentSchemaRegistry')) {
    return new SchemaError('SCHEMA_INCOMPATIBLE', `subject ${subject}: not a valid Avro schema`, { cause: err })
  }
  return unavailable('register', err)
}
