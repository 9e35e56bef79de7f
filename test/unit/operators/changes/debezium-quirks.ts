/**
 * The row, views and harness of debezium-quirks.test.ts: Debezium JSON messages over a NOT NULL
 * table (string, number, boolean, bytes and array columns), decoded as JSON or as the Avro change
 * envelope, fed to an attribute view and a current-state view in one partition task.
 */
import assert from 'node:assert/strict'
import { changeEnvelopeSchema } from '../../../../features/change-envelope.ts'
import type {
  AvroRecordSchema,
  EntityDef,
  EventRecord,
  FeatureRow,
  FeatureViewDef,
  SourceDef,
} from '../../../../features/types.ts'
import { createChangeJsonDecoder } from '../../../../schemas/change-json-decoder.ts'
import { createWideType } from '../../../../schemas/avro-type.ts'
import type { ChangeStep } from '../../../reference/changes-reference.ts'
import { testSource, testView } from '../defs.ts'

export const ROW: AvroRecordSchema = {
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'grp', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'qty', type: 'int' },
    { name: 'active', type: 'boolean' },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'blob', type: 'bytes' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
  ],
}
export const ORDER: EntityDef = { kind: 'entity', name: 'order', joinKeys: ['id'], keyType: 'int', description: '' }
export const GROUP: EntityDef = { kind: 'entity', name: 'grp', joinKeys: ['grp'], keyType: 'string', description: '' }
export const TOAST = '__debezium_unavailable_value'
export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64')

export function sourceWith(unavailableValue?: string): SourceDef {
  return testSource({
    name: 'orders',
    topic: 'orders',
    schema: changeEnvelopeSchema(ROW),
    eventTimeField: 'ts_ms',
    keyedBy: 'order',
    allowedLatenessMs: 1e12,
    changes: {
      kind: 'changelog',
      rowSchema: ROW,
      primaryKey: ['id'],
      format: 'json',
      ...(unavailableValue === undefined ? {} : { unavailableValue }),
    },
  })
}

export function viewsOf(source: SourceDef): FeatureViewDef[] {
  const attrs: FeatureViewDef = {
    ...testView({ name: 'attrs', source, entity: ORDER, features: [] }),
    changeMode: 'attributes',
    features: ['grp', 'amount', 'qty', 'note'].map((field) => ({
      name: field,
      type: field === 'grp' || field === 'note' ? ('string' as const) : ('double' as const),
      aggregation: { name: field, op: 'attribute', field, windowMs: null, hopMs: 0, n: undefined, quantile: undefined },
    })),
  }
  const totals: FeatureViewDef = {
    ...testView({
      name: 'totals',
      source,
      entity: GROUP,
      features: [
        { op: 'count', windowMs: null },
        { op: 'sum', field: 'amount', windowMs: null },
        { op: 'sum', field: 'qty', windowMs: null },
      ],
    }),
    // A boolean filter: a key-only image's `false` fallback would refuse the row it deletes.
    filter: (r: EventRecord) => r.active === true,
    changeMode: 'current_state',
  }
  return [attrs, totals]
}

/** A full row as Debezium JSON writes it (bytes as base64). */
export const row = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 1,
  grp: 'g1',
  amount: 5,
  qty: 2,
  active: true,
  note: 'long text',
  blob: b64('data'),
  tags: ['a'],
  ...over,
})
/** A key-only before image of a NOT NULL table: Debezium's fallbacks outside the key. */
export const fallbacks = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 1,
  grp: '',
  amount: 0,
  qty: 0,
  active: false,
  note: null,
  blob: '',
  tags: [],
  ...over,
})

export interface Message {
  readonly op: string
  readonly before?: Record<string, unknown> | null
  readonly after?: Record<string, unknown> | null
  /** source.ts_ms; the top-level ts_ms is `ts` (absent when null). */
  readonly source?: number
  readonly ts?: number | null
}

export interface Case {
  readonly name: string
  readonly messages: readonly Message[]
  /** Which formats the case applies to (source.ts_ms has no place in the Avro envelope). */
  readonly formats?: readonly ('json' | 'avro')[]
  /** `offset:reason@view`, or `offset:reason` for a record refused before any view. */
  readonly dead: readonly string[] | { readonly json: readonly string[]; readonly avro: readonly string[] }
  /** Each order's last attribute row: its values, or 'MISSING' after a tombstone. */
  readonly attrs: Record<string, readonly unknown[] | 'MISSING'>
  /** Each group's last row. */
  readonly totals: Record<string, readonly unknown[]>
  readonly unavailableValue?: string
}

export const t = (i: number): number => 1_000 + i

const jsonDecoder = createChangeJsonDecoder({ rowSchema: ROW })
const avroType = createWideType(changeEnvelopeSchema(ROW) as never)

function jsonText(m: Message, i: number): string {
  const ts = m.ts === undefined ? t(i) : m.ts
  const payload: Record<string, unknown> = { op: m.op, before: m.before ?? null, after: m.after ?? null }
  if (m.source !== undefined) payload.source = { ts_ms: m.source, connector: 'postgresql' }
  if (ts !== null) payload.ts_ms = ts
  // -0 survives only in the text: JSON.stringify writes 0.
  return JSON.stringify(payload).replace(/"ts_ms":0([,}])/g, Object.is(ts, -0) ? '"ts_ms":-0$1' : '"ts_ms":0$1')
}

/** The records of a case as one format decodes them: steps for the task, and what its decoder refused. */
export async function stepsOf(c: Case, format: 'json' | 'avro'): Promise<{ steps: ChangeStep[]; refused: string[] }> {
  const steps: ChangeStep[] = []
  const refused: string[] = []
  for (const [i, m] of c.messages.entries()) {
    if (format === 'json') {
      const out = await jsonDecoder.decode(new TextEncoder().encode(jsonText(m, i)))
      if (!out.ok) refused.push(`${i}:${out.reason}`)
      else steps.push({ offset: String(i), eventTimeMs: out.event.ts_ms as number, event: out.event })
      continue
    }
    // The Avro envelope: the same images (read by the JSON decoder), ts_ms the change's own.
    const images = await jsonDecoder.decode(new TextEncoder().encode(jsonText({ ...m, source: undefined, ts: 1 }, i)))
    assert.ok(images.ok, JSON.stringify(images))
    const ts = m.ts === undefined ? t(i) : (m.ts ?? 0)
    const event = avroType.fromBuffer(avroType.toBuffer({ ...images.event, ts_ms: ts })) as EventRecord
    steps.push({ offset: String(i), eventTimeMs: Number(event.ts_ms), event })
  }
  return { steps, refused }
}

export function lastRows(rows: readonly FeatureRow[]): Record<string, readonly unknown[] | 'MISSING'> {
  const last: Record<string, readonly unknown[] | 'MISSING'> = {}
  for (const r of rows) last[r.entityKey] = r.deleted === true ? 'MISSING' : r.values
  return last
}
