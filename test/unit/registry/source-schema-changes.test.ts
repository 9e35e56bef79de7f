/**
 * The source's own schema edited between two applies: any edit that changes what some record
 * decodes to (a default, an alias, an enum's default or symbols) is a logic change of every view
 * over the source — refused under the published version, published as the next — and an edit of
 * docs alone is not. The oracle is the decoder itself: a corpus of writer records (old and new
 * writers, ones that lack a field, ones under a former name) decoded with the schema before and
 * after the edit.
 *
 * Before, the hash dropped every member named `doc`, also inside default values: a record or map
 * default holding a `doc` member could change (so records lacking the field decoded to another
 * value, live and in replay) while apply said the view was unchanged.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { featureView, source } from '../../../features/index.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { collectDefinitions, createRegistry, DefinitionChangedError } from '../../../registry/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createFastType } from '../../../schemas/avro-type.ts'
import type { AvroSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'
import { user, viewBase } from '../define/fixtures.ts'

const clock: Clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

type Field = { name: string; type: unknown; default?: unknown; aliases?: string[]; doc?: string }
const status = (symbols: string[], def?: string) => ({
  type: 'enum',
  name: 'Status',
  symbols,
  ...(def === undefined ? {} : { default: def }),
})
const meta = {
  type: 'record',
  name: 'Meta',
  fields: [
    { name: 'doc', type: 'string' },
    { name: 'src', type: 'string' },
  ],
}

const BASE_FIELDS: Field[] = [
  { name: 'user_id', type: 'string' },
  { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'item', type: 'string', default: '' },
  { name: 'channel', type: 'string', default: 'web' },
  { name: 'status', type: status(['NEW', 'PAID', 'REFUNDED'], 'NEW'), default: 'NEW' },
  { name: 'meta', type: meta, default: { doc: 'a', src: 'x' } },
  { name: 'attrs', type: { type: 'map', values: 'string' }, default: { doc: '1' } },
]
const schemaOf = (fields: Field[], extra: object = {}): AvroRecordSchema =>
  ({ type: 'record', name: 'Click', fields, ...extra }) as AvroRecordSchema
const edit = (name: string, patch: Partial<Field>) => BASE_FIELDS.map((f) => (f.name === name ? { ...f, ...patch } : f))

const EDITS: Record<string, { readonly schema: AvroRecordSchema; readonly changed: boolean }> = {
  'a field default changed': { schema: schemaOf(edit('channel', { default: 'app' })), changed: true },
  'a record default changed in its member named doc': {
    schema: schemaOf(edit('meta', { default: { doc: 'b', src: 'x' } })),
    changed: true,
  },
  'a map default changed under the key doc': { schema: schemaOf(edit('attrs', { default: { doc: '2' } })), changed: true },
  'an alias added (a former name now read)': { schema: schemaOf(edit('item', { aliases: ['sku'] })), changed: true },
  "an enum's default changed": {
    schema: schemaOf(edit('status', { type: status(['NEW', 'PAID', 'REFUNDED'], 'PAID') })),
    changed: true,
  },
  'an enum symbol removed (now read as the default)': {
    schema: schemaOf(edit('status', { type: status(['NEW', 'PAID'], 'NEW') })),
    changed: true,
  },
  'docs on the record, a field and a nested type': {
    schema: schemaOf(
      BASE_FIELDS.map((f) => ({ ...f, doc: `the ${f.name}` })).map((f) =>
        f.name === 'meta' ? { ...f, type: { ...meta, doc: 'provenance' } } : f,
      ),
      { doc: 'a click' },
    ),
    changed: false,
  },
}

/** Writers producers may use: the source schema itself, and older ones lacking fields or naming them otherwise. */
const WRITERS: Record<string, { readonly schema: object; readonly value: Record<string, unknown> }> = {
  current: {
    schema: schemaOf(BASE_FIELDS),
    value: { user_id: 'u', ts: 1, item: 'i', channel: 'c', status: 'REFUNDED', meta: { doc: 'd', src: 's' }, attrs: { k: 'v' } },
  },
  'lacking the defaulted fields': { schema: schemaOf(BASE_FIELDS.slice(0, 2)), value: { user_id: 'u', ts: 1 } },
  'with an enum symbol the source lacks': {
    schema: schemaOf([...BASE_FIELDS.slice(0, 2), { name: 'status', type: status(['NEW', 'PAID', 'REFUNDED', 'LOST']) }]),
    value: { user_id: 'u', ts: 1, status: 'LOST' },
  },
  'naming item sku': {
    schema: schemaOf([...BASE_FIELDS.slice(0, 2), { name: 'sku', type: 'string' }]),
    value: { user_id: 'u', ts: 1, sku: 'old' },
  },
}
const writerNames = Object.keys(WRITERS)

/** What each writer's record decodes to under `schema` (a refusal as its reason). */
async function decodedUnder(schema: AvroRecordSchema): Promise<unknown[]> {
  const registry: SchemaRegistry = {
    register: async () => 1,
    getById: async (id) => WRITERS[writerNames[id - 1] ?? '']?.schema as AvroSchema | undefined,
    latest: async () => undefined,
  }
  const decoder = createDecoder({ registry, readerSchema: schema })
  const values = writerNames.map((name, i) => {
    const header = Buffer.alloc(5)
    header.writeUInt32BE(i + 1, 1)
    return Buffer.concat([header, createFastType(WRITERS[name]!.schema as AvroSchema).toBuffer(WRITERS[name]!.value)])
  })
  return (await decoder.decodeBatch(values)).map((r) => (r.ok ? { ...r.event } : r.reason))
}

const view = (schema: AvroRecordSchema, version = 1) =>
  featureView({
    ...viewBase,
    version,
    source: source({ name: 'clicks', topic: 'clicks', schema, eventTimeField: 'ts', keyedBy: user }),
    aggregations: [{ op: 'count', windows: ['1h'] }],
  })

void describe('registry: the source schema edited between applies', () => {
  for (const [what, e] of Object.entries(EDITS)) {
    void test(`${what}: ${e.changed ? 'a logic change, published as v2' : 'unchanged'}, as the records decode`, async () => {
      const differs = JSON.stringify(await decodedUnder(schemaOf(BASE_FIELDS))) !== JSON.stringify(await decodedUnder(e.schema))
      assert.equal(differs, e.changed, 'the oracle: does some record decode otherwise?')
      const r = createRegistry({ store: new MemoryObjectStore(), clock })
      await r.apply(collectDefinitions([view(schemaOf(BASE_FIELDS))]))
      const plan = await r.diff(collectDefinitions([view(e.schema)]))
      assert.equal(plan.views[0]!.change, e.changed ? 'changed' : 'unchanged', plan.views[0]!.logicChanges.join('\n'))
      if (!e.changed) return
      await assert.rejects(r.apply(collectDefinitions([view(e.schema)])), DefinitionChangedError)
      const published = await r.apply(collectDefinitions([view(e.schema, 2)]))
      assert.deepEqual(
        published.views.map((v) => [v.version, v.change]),
        [[2, 'added']],
      )
    })
  }
})
