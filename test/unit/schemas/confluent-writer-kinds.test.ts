/**
 * What a Confluent-compatible registry can answer for a record's schema id, through the decoder:
 * an Avro schema decodes; a JSON Schema or Protobuf schema (another producer on the topic using
 * another serializer: the framing is the same), an Avro schema avsc cannot build, or a schema
 * text that is not JSON, is refused `schema_mismatch` saying which — the id never changes meaning,
 * so no answer of the registry will change; only an id it does not know (404) is `unknown_schema`,
 * and only a registry that does not answer is retried.
 *
 * Before, every one of these answers but the first surfaced as "schema registry getById failed"
 * (a retriable SOURCE_UNAVAILABLE, the cause a TypeError `type.schema is not a function` or an
 * avsc parse error): the batch failed after its retries, `kfs run` stopped, and every restart
 * failed again on the same record — a crash loop, and no dead letter.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import avro from 'avsc'
import { ConfluentSchemaRegistry } from '../../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { schemaReadsRetried } from '../../../engine/retried-reads.ts'
import { createDecoder } from '../../../schemas/decoder.ts'

const reader = { type: 'record', name: 'C', fields: [{ name: 'a', type: 'string' }] }

/** Registry answers by id: the body of GET /schemas/ids/{id}, or an HTTP status. */
const ANSWERS: Record<number, { readonly body?: object; readonly status?: number }> = {
  1: { body: { schema: JSON.stringify(reader) } },
  2: { body: { schema: JSON.stringify(reader), schemaType: 'AVRO' } },
  3: { body: { schema: JSON.stringify({ type: 'object', properties: { a: { type: 'string' } } }), schemaType: 'JSON' } },
  4: { body: { schema: 'syntax = "proto3";\nmessage C { string a = 1; }', schemaType: 'PROTOBUF' } },
  5: { body: { schema: JSON.stringify({ type: 'record', name: 'C', fields: [{ name: 'a', type: 'strnig' }] }) } },
  6: { body: { schema: '{not json' } },
  7: { status: 404 },
  8: { status: 503 },
}

const CASES: Record<number, { readonly what: string; readonly expect: RegExp }> = {
  1: { what: 'an Avro schema', expect: /^ok$/ },
  2: { what: 'an Avro schema, its type named', expect: /^ok$/ },
  3: { what: 'a JSON Schema', expect: /^schema_mismatch: schema id 3 is a JSON schema, not Avro$/ },
  4: { what: 'a Protobuf schema', expect: /^schema_mismatch: schema id 4 is a PROTOBUF schema, not Avro$/ },
  5: {
    what: 'Avro that avsc cannot build',
    expect: /^schema_mismatch: writer schema cannot be read as the source schema: .*strnig/,
  },
  6: { what: 'a schema text that is not JSON', expect: /^schema_mismatch: schema id 6 is not JSON: / },
  7: { what: 'an id the registry does not know', expect: /^unknown_schema: schema id 7 is not registered$/ },
  // Retried, never dead-lettered: live by its caller; a backfill gives up after its attempts and fails.
  8: {
    what: 'a registry that does not answer',
    expect: /^threw (SOURCE_UNAVAILABLE \(retriable\)|RETRIES_EXHAUSTED of SOURCE_UNAVAILABLE)$/,
  },
}

/** The error's code, and the port's under the read retries' wrapping (a RetriesExhaustedError keeps the last failure as its cause). */
function codeOf(err: FeatureStoreError): string {
  return err.cause instanceof FeatureStoreError && err.code === 'RETRIES_EXHAUSTED'
    ? `${err.code} of ${err.cause.code}`
    : err.code
}

function framed(id: number): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(id, 1)
  return Buffer.concat([header, avro.Type.forSchema(reader as avro.Schema).toBuffer({ a: 'x' })])
}

void describe('schemas: what a Confluent registry answers for a schema id, through the decoder', () => {
  void test('Avro decodes; another kind of schema or an unreadable one is schema_mismatch; 404 unknown_schema; only no answer is retried', async () => {
    const server = createServer((req, res) => {
      const id = Number(/\/schemas\/ids\/(\d+)/.exec(req.url ?? '')?.[1])
      const answer = ANSWERS[id] ?? { status: 404 }
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
      res.end(JSON.stringify(answer.body ?? { error_code: answer.status, message: 'no' }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const confluent = new ConfluentSchemaRegistry({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        retries: 0,
      })
      // Live reads the port as it is; a backfill reads it through the read retries, which name the read around a failure.
      const retried = schemaReadsRetried(confluent, {
        clock: { nowMs: () => 0, sleep: async () => {} },
        attempts: 2,
        jitter: () => 0,
      })
      for (const [how, registry] of [
        ['live', confluent],
        ['backfill', retried],
      ] as const) {
        const got: Record<string, string> = {}
        const want: Record<string, string> = {}
        for (const [id, c] of Object.entries(CASES)) {
          const decoder = createDecoder({ registry, readerSchema: reader })
          const outcome = await decoder.decode(framed(Number(id))).then(
            (r) => (r.ok ? 'ok' : `${r.reason}: ${r.detail}`),
            (err: unknown) =>
              err instanceof FeatureStoreError
                ? `threw ${codeOf(err)}${err.retriable ? ' (retriable)' : ''}`
                : `threw ${String(err)}`,
          )
          got[c.what] = c.expect.test(outcome) ? 'as expected' : outcome
          want[c.what] = 'as expected'
        }
        assert.deepEqual(got, want, how)
      }
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
