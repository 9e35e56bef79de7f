/**
 * Views cannot tell a Debezium JSON changelog from the Avro change envelope (docs/design.md §11,
 * docs/table-and-changelog-sources.md): random changes over a row of every scalar column type —
 * ints and longs written as -0, 1e3 or 2.50e1, floats that round to 32 bits, doubles, nulls — are
 * written both ways, decoded by each decoder, and fed to an attribute view and a current-state
 * view: the decoded envelopes, the rows, the dead letters and the snapshot bytes are the same.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { changeEnvelopeSchema } from '../../../../features/change-envelope.ts'
import type { AvroRecordSchema, EntityDef, EventRecord, FeatureViewDef } from '../../../../features/types.ts'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import { createChangeJsonDecoder } from '../../../../schemas/change-json-decoder.ts'
import { createWideType } from '../../../../schemas/avro-type.ts'
import { prng } from '../../../support/scenario.ts'
import { deadOf, feedTask } from './change-scenarios.ts'
import type { ChangeStep } from '../../../reference/changes-reference.ts'
import { testSource, testView } from '../defs.ts'

const ROW: AvroRecordSchema = {
  type: 'record',
  name: 'Wide',
  namespace: 'parity',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'grp', type: ['null', 'string'], default: null },
    { name: 'n', type: ['null', 'int'], default: null },
    { name: 'l', type: ['null', 'long'], default: null },
    { name: 'f', type: ['null', 'float'], default: null },
    { name: 'x', type: ['null', 'double'], default: null },
    { name: 's', type: ['null', 'string'], default: null },
  ],
}
const ITEM: EntityDef = { kind: 'entity', name: 'wide', joinKeys: ['id'], keyType: 'int', description: '' }
const GROUP: EntityDef = { kind: 'entity', name: 'grp', joinKeys: ['grp'], keyType: 'string', description: '' }
const source = testSource({
  name: 'wides',
  topic: 'wides',
  schema: changeEnvelopeSchema(ROW),
  eventTimeField: 'ts_ms',
  keyedBy: 'wide',
  allowedLatenessMs: 1e12,
  changes: { kind: 'changelog', rowSchema: ROW, primaryKey: ['id'], format: 'json' },
})
const attributes: FeatureViewDef = {
  ...testView({ name: 'wide_attrs', source, entity: ITEM, features: [] }),
  changeMode: 'attributes',
  features: ['grp', 'n', 'l', 'f', 'x', 's'].map((field) => ({
    name: field,
    type: field === 'grp' || field === 's' ? ('string' as const) : ('double' as const),
    aggregation: { name: field, op: 'attribute', field, windowMs: null, hopMs: 0, n: undefined, quantile: undefined },
  })),
}
const totals: FeatureViewDef = {
  ...testView({
    name: 'grp_totals',
    source,
    entity: GROUP,
    features: ['n', 'l', 'f', 'x'].flatMap((field) => [
      { op: 'sum' as const, field, windowMs: null },
      { op: 'avg' as const, field, windowMs: null },
    ]),
  }),
  changeMode: 'current_state',
}

/** JSON text of a value, with each integer literal written as `form` picks (-0, 1e3, 2.50e1 …). */
function jsonText(v: unknown, form: (n: number) => string): string {
  if (typeof v === 'number') return form(v)
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map((x) => jsonText(x, form)).join(',')}]`
  return `{${Object.entries(v)
    .map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x, form)}`)
    .join(',')}}`
}

function randomChanges(seed: number, count: number): { envelope: EventRecord; json: string }[] {
  const rnd = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const integer = (): number | null => pick([null, 0, -0, 1, -1, 7, 1000, 25, 2 ** 31 - 1, -(2 ** 31)])
  const row = (id: number): EventRecord => ({
    id,
    grp: pick(['g1', 'g2', null]),
    n: integer(),
    l: pick([null, 0, -0, 1000, 2 ** 53 - 1, -(2 ** 53 - 1), 25]),
    f: pick([null, 0.1, 1.5, -0, 3.4e38, 1e-40, 16777217]),
    x: pick([null, 0.1, -0, 1e308, 5e-324, 2.5]),
    s: pick(['a', null, 'é', '']),
  })
  const current = new Map<number, EventRecord>()
  const out: { envelope: EventRecord; json: string }[] = []
  for (let i = 0; i < count; i++) {
    const id = 1 + Math.floor(rnd() * 4)
    const before = current.get(id) ?? null
    const after = rnd() < 0.2 && before !== null ? null : row(id)
    const op = after === null ? 'd' : before === null ? 'c' : 'u'
    if (after === null) current.delete(id)
    else current.set(id, after)
    const envelope = { op, before, after, ts_ms: 1_000 + i, snapshot: null }
    const form = (n: number): string => {
      // A zero keeps its sign in the text: an int or long -0 then reads 0, as Avro's zig-zag gives.
      if (Object.is(n, -0)) return pick(['-0', '-0.0', '-0e5'])
      if (n === 0) return pick(['0', '0.0', '0e0'])
      if (Number.isInteger(n) && n === 1000) return pick(['1000', '1e3', '1.0e3', '10e2'])
      if (n === 25) return pick(['25', '2.50e1', '250e-1'])
      return JSON.stringify(n)
    }
    const message =
      rnd() < 0.3 ? { schema: { type: 'struct' }, payload: { ...envelope, source: { ts_ms: envelope.ts_ms } } } : envelope
    out.push({ envelope, json: jsonText(message, form) })
  }
  return out
}

void describe('operators > change views > a JSON changelog and its Avro twin', () => {
  void test('decode to the same envelopes and give the same rows, dead letters and snapshot bytes (120 random changelogs)', async () => {
    // The Avro decoder's type for longs up to ±2^63 (avsc's own stops at ±2^52).
    const type = createWideType(changeEnvelopeSchema(ROW) as never)
    const json = createChangeJsonDecoder({ rowSchema: ROW })
    for (let seed = 1; seed <= 120; seed++) {
      const changes = randomChanges(seed, 10 + (seed % 40))
      const fromJson: ChangeStep[] = []
      const fromAvro: ChangeStep[] = []
      for (const [i, c] of changes.entries()) {
        const j = await json.decode(new TextEncoder().encode(c.json))
        assert.ok(j.ok, `seed ${seed}, change ${i}: ${JSON.stringify(j)} from ${c.json}`)
        const a = type.fromBuffer(type.toBuffer(c.envelope)) as EventRecord
        assert.deepEqual(j.event, structuredClone(a), `seed ${seed}, change ${i}: ${c.json}`)
        for (const part of ['before', 'after'] as const) {
          const jr = j.event[part] as EventRecord | null
          const ar = a[part] as EventRecord | null
          for (const k of Object.keys(ar ?? {}))
            assert.ok(
              Object.is(jr?.[k], ar?.[k]),
              `seed ${seed}, change ${i}: ${part}.${k} is ${String(jr?.[k])} from JSON, ${String(ar?.[k])} from Avro`,
            )
        }
        fromJson.push({ offset: String(i), eventTimeMs: j.event.ts_ms as number, event: j.event })
        fromAvro.push({ offset: String(i), eventTimeMs: a.ts_ms as number, event: a })
      }
      const views = [attributes, totals]
      const tj = createPartitionTask({ views, source })
      const ta = createPartitionTask({ views, source })
      const rj = feedTask(tj, fromJson)
      const ra = feedTask(ta, fromAvro)
      assert.deepEqual(rj.rows, ra.rows, `seed ${seed}: rows`)
      for (const [v, rows] of rj.rows.entries())
        for (const [r, row] of rows.entries())
          for (const [k, x] of row.values.entries())
            assert.ok(Object.is(x, ra.rows[v]![r]!.values[k]), `seed ${seed}: view ${v} row ${r} value ${k}`)
      assert.deepEqual(deadOf(rj.dead), deadOf(ra.dead), `seed ${seed}: dead letters`)
      assert.deepEqual(tj.snapshot(), ta.snapshot(), `seed ${seed}: snapshot bytes`)
    }
  })
})
