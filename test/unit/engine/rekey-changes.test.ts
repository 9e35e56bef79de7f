/**
 * Re-keying a change source for a current-state view (docs/design.md §11): a change goes to the
 * group of its before image (retract) and of its after image (add), one copy without a role when
 * both are one group or only one image names a group.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import type { AvroRecordSchema, EntityDef, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import { rekeyedSource, type RekeyPlan } from '../../../engine/plan-sources.ts'
import { REKEY_HEADERS, rekeyRecord, rekeyRecords, resolveByIndex, type RekeyOutcome } from '../../../engine/rekey-records.ts'
import { RowGroupIndex } from '../../../engine/rekey-row-index.ts'
import { PartitionProcessor } from '../../../engine/partition-processor.ts'
import type { PartitionTask, TaskEvent } from '../../../operators/task/partition-task.ts'
import type { DecodeResult } from '../../../schemas/decoder.ts'
import type { LogRecord } from '../../../ports/event-log.ts'

const rowSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Account',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'region', type: ['null', 'string'], default: null },
    { name: 'balance', type: 'double' },
  ],
}
const region: EntityDef = { kind: 'entity', name: 'region', joinKeys: ['region'], keyType: 'string', description: 'A sales region' }
const accounts: SourceDef = {
  kind: 'source',
  name: 'accounts',
  topic: 'accounts',
  schema: changeEnvelopeSchema(rowSchema),
  eventTimeField: 'ts_ms',
  keyedBy: 'account',
  partitions: 2,
  outOfOrdernessMs: 0,
  allowedLatenessMs: 0,
  idleTimeoutMs: 60_000,
  maxFutureSkewMs: 60_000,
  description: 'Accounts (Debezium)',
  changes: { kind: 'changelog', rowSchema, primaryKey: ['id'], format: 'json' },
}
const plan: RekeyPlan = { source: accounts, entity: region, topic: 'kfs.accounts.by-region', internalSource: rekeyedSource(accounts, region), views: [] }

const NOW = 1_700_000_000_000
const value = new Uint8Array([1, 2, 3])
function record(offset: string, headers: Record<string, string> = {}): LogRecord {
  return { topic: 'accounts', partition: 1, offset, key: Buffer.from('7'), value, timestampMs: NOW, headers }
}
const origin = (offset: string) => ({ [REKEY_HEADERS.topic]: 'accounts', [REKEY_HEADERS.partition]: '1', [REKEY_HEADERS.offset]: offset })
function change(op: string, before: Record<string, unknown> | null, after: Record<string, unknown> | null, ts_ms = NOW - 5): DecodeResult {
  return { ok: true, event: { op, before, after, ts_ms, snapshot: null }, schemaId: 0 }
}
/** What the stage forwards or refuses for one record, its row index consulted (a fresh one unless given). */
function routed(p: RekeyPlan, r: LogRecord, decoded: DecodeResult, index = new RowGroupIndex()): Omit<RekeyOutcome, 'indexed'> {
  const { indexed: _indexed, ...out } = resolveByIndex(p, rekeyRecord(p, r, decoded), index)
  return out
}
const eu = { id: 7, region: 'eu', balance: 1 }
const us = { id: 7, region: 'us', balance: 2 }
const keyOnly = { id: 7 }

void test('an insert goes to the group of its after image, one copy without a role', () => {
  const out = routed(plan, record('3'), change('c', null, eu))
  assert.deepEqual(out, { forwards: [{ key: 'eu', value, headers: origin('3') }], timeMs: NOW - 5 })
})

void test('an update within one group: one copy without a role', () => {
  const out = rekeyRecord(plan, record('4'), change('u', eu, { ...eu, balance: 9 }))
  assert.deepEqual(out.forwards, [{ key: 'eu', value, headers: origin('4') }])
})

void test('an update moving the row: retract copy to the old group, add copy to the new, same bytes and origin', () => {
  const out = routed(plan, record('5', { trace: 't1' }), change('u', eu, us))
  assert.deepEqual(out, {
    forwards: [
      { key: 'eu', value, headers: { trace: 't1', ...origin('5'), [REKEY_HEADERS.role]: 'retract' } },
      { key: 'us', value, headers: { trace: 't1', ...origin('5'), [REKEY_HEADERS.role]: 'add' } },
    ],
    timeMs: NOW - 5,
  })
})

void test('a role header on the source record is the producer\'s forgery: dropped, or replaced by the stage\'s', () => {
  const one = rekeyRecord(plan, record('6', { [REKEY_HEADERS.role]: 'retract' }), change('c', null, eu))
  assert.deepEqual(one.forwards, [{ key: 'eu', value, headers: origin('6') }])
  const two = rekeyRecord(plan, record('6', { [REKEY_HEADERS.role]: 'retract' }), change('u', eu, us))
  assert.deepEqual(two.forwards?.map((f) => f.headers?.[REKEY_HEADERS.role]), ['retract', 'add'])
})

void test('an update whose before image lacks the group column (primary key only) goes whole to the after group', () => {
  const out = rekeyRecord(plan, record('7'), change('u', keyOnly, us))
  assert.deepEqual(out.forwards, [{ key: 'us', value, headers: origin('7') }])
  const nullRegion = rekeyRecord(plan, record('7'), change('u', { ...eu, region: null }, us))
  assert.deepEqual(nullRegion.forwards, [{ key: 'us', value, headers: origin('7') }])
})

void test('a delete with a full before image goes to its group; with the key only, to the group the row index holds, else unknown_retraction', () => {
  assert.deepEqual(routed(plan, record('8'), change('d', eu, null)).forwards, [{ key: 'eu', value, headers: origin('8') }])
  const index = new RowGroupIndex()
  routed(plan, record('1'), change('c', null, us), index)
  assert.deepEqual(routed(plan, record('9'), change('d', keyOnly, null), index).forwards, [{ key: 'us', value, headers: { ...origin('9'), [REKEY_HEADERS.role]: 'retract' } }])
  assert.equal(index.groupOf('7'), undefined, 'the delete took the row out of the index')
  const out = routed(plan, record('9'), change('d', keyOnly, null), index)
  assert.equal(out.forwards, undefined)
  assert.deepEqual(out.deadLetter, {
    topic: 'accounts',
    partition: 1,
    offset: '9',
    key: Buffer.from('7'),
    value,
    reason: 'unknown_retraction',
    detail: 're-key by region: delete of row 7 has a key-only before image, which names no group, and the stage holds no row 7 (never seen, or already deleted)',
  })
  assert.equal(out.timeMs, undefined)
})

void test('changes naming no group are dead-lettered with the image at fault', () => {
  const letter = (decoded: DecodeResult) => {
    const d = rekeyRecord(plan, record('10'), decoded).deadLetter
    return d && { reason: d.reason, detail: d.detail }
  }
  assert.deepEqual(letter(change('c', null, { id: 7, balance: 1 })), { reason: 'missing_key', detail: 're-key by region: after image: join key region is missing' })
  assert.deepEqual(letter(change('c', null, { ...eu, region: 3 })), { reason: 'invalid_key', detail: 're-key by region: after image: join key region is not a string' })
  assert.deepEqual(letter(change('d', { ...eu, region: 3 }, null)), { reason: 'invalid_key', detail: 're-key by region: before image: join key region is not a string' })
  assert.deepEqual(letter(change('t', null, null)), { reason: 'unknown_op', detail: "re-key by region: op 't' is not one of c, r, u, d" })
})

void test('a change the views cannot read is refused once by the stage, never split into two copies the groups each refuse', () => {
  const cases: [string, DecodeResult, string][] = [
    ['an unknown op', change('x', eu, us), "op 'x' is not one of c, r, u, d"],
    ['a truncate', change('t', null, null), "op 't' is not one of c, r, u, d"],
    ['a delete with an after image', change('d', eu, us), "op 'd' with an after image"],
    ['a delete without a before image', change('d', null, null), "op 'd' without a before image (at least the key columns)"],
    ['a create with a before image', change('c', eu, us), "op 'c' with a before image (only an update 'u' carries the old row)"],
    ['a snapshot read with a before image', change('r', eu, us), "op 'r' with a before image (only an update 'u' carries the old row)"],
    ['an update whose primary key changed', change('u', eu, { ...us, id: 8 }), "op 'u' whose before image has another primary key than its after image"],
    ['an update without an after image', change('u', eu, null), "op 'u' without an after image"],
    ['a primary key that is not an integer', change('u', { ...eu, id: 'seven' }, { ...us, id: 'seven' }), 'after: join key id is not an integer'],
    ['a missing primary key', change('c', null, { region: 'us', balance: 2 }), 'after: join key id is missing'],
    ['an image that is not a row', change('u', eu, [us] as unknown as Record<string, unknown>), 'before/after must be row records or null'],
  ]
  for (const [name, decoded, detail] of cases) {
    const out = rekeyRecord(plan, record('13'), decoded)
    assert.equal(out.forwards, undefined, `${name}: forwarded`)
    const reason = detail.includes('join key') ? (detail.endsWith('missing') ? 'missing_key' : 'invalid_key') : 'unknown_op'
    assert.deepEqual(out.deadLetter && [out.deadLetter.reason, out.deadLetter.detail, out.deadLetter.offset], [reason, `re-key by region: ${detail}`, '13'], name)
  }
})

void test('the future-skew rule applies to the change\'s ts_ms', () => {
  const out = rekeyRecord(plan, record('11'), change('u', eu, us, NOW + 60_001))
  assert.equal(out.deadLetter?.reason, 'future_event_time')
  assert.equal(rekeyRecord(plan, record('11'), change('u', eu, us, NOW + 60_000)).forwards?.length, 2)
})

void test('an event time far in the future is dead-lettered future_event_time up to the end of 9999, invalid_event_time beyond it (up to ±2^53 ms, beyond the dates a Date holds)', () => {
  for (const [t, shown] of [
    [NOW + 86_400_000, new Date(NOW + 86_400_000).toISOString()],
    [253_402_300_799_999, '9999-12-31T23:59:59.999Z'],
  ] as const) {
    const out = rekeyRecord(plan, record('14'), change('u', eu, us, t))
    assert.equal(out.deadLetter?.reason, 'future_event_time', String(t))
    assert.ok(out.deadLetter.detail.startsWith(`re-key by region: event time ${shown}`), out.deadLetter.detail)
  }
  for (const [t, shown] of [
    [253_402_300_800_000, '+010000-01-01T00:00:00.000Z'],
    [8_640_000_000_000_000, '+275760-09-13T00:00:00.000Z'],
    [8_640_000_000_000_001, '8640000000000001 ms'],
    [9e15, '9000000000000000 ms'],
    [2 ** 53 - 1, `${2 ** 53 - 1} ms`],
  ] as const) {
    const out = rekeyRecord(plan, record('14'), change('u', eu, us, t))
    assert.equal(out.deadLetter?.reason, 'invalid_event_time', String(t))
    assert.match(out.deadLetter.detail, new RegExp(`ts_ms = ${t} \\(${shown.replace('+', '\\+').replaceAll('.', '\\.')}\\) is outside 0001-01-01T00:00:00Z … 9999-12-31T23:59:59\\.999Z`), out.deadLetter.detail)
  }
})

void test('rekeyRecords forwards every copy in source order and collects the dead letters', () => {
  const records = [record('1'), record('2'), record('3'), record('4')]
  const out = rekeyRecords(plan, records, [change('u', eu, us), change('d', keyOnly, null), change('d', keyOnly, null), change('c', null, us)])
  assert.deepEqual(
    out.records.map((r) => [r.key, r.headers?.[REKEY_HEADERS.offset], r.headers?.[REKEY_HEADERS.role]]),
    [
      ['eu', '1', 'retract'],
      ['us', '1', 'add'],
      ['us', '2', 'retract'],
      ['us', '4', undefined],
    ],
  )
  assert.deepEqual(out.deadLetters.map((d) => [d.offset, d.reason]), [['3', 'unknown_retraction']])
})

void test('an event source keeps its path: the event itself is keyed, headers kept as they came', () => {
  const events: RekeyPlan = { ...plan, source: { ...accounts, changes: undefined, eventTimeField: 'ts' } }
  const decoded: DecodeResult = { ok: true, event: { region: 'eu', ts: NOW, before: { region: 'us' } }, schemaId: 3 }
  const out = rekeyRecord(events, record('12', { [REKEY_HEADERS.role]: 'add' }), decoded)
  assert.deepEqual(out, { forwards: [{ key: 'eu', value, headers: { [REKEY_HEADERS.role]: 'add', ...origin('12') } }], timeMs: NOW })
})

/**
 * The roles the processor hands its task, one per record (a task that only records its input): each
 * record is `decoded` (by default the change eu → us, group eu to group us) read under `keys[i]`,
 * with a forged header; a held group shows as `retract@group`.
 */
function rolesSeen(topic: string, source: SourceDef, keys: readonly (string | null)[], decoded = change('u', eu, us)): string[] {
  const events: TaskEvent[] = []
  const view = { name: 'by_region', entity: region } as unknown as FeatureViewDef
  const task: PartitionTask = {
    views: [view],
    watermarkMs: -Infinity,
    processEvent: (input) => (events.push(input), { rows: [], deadLetters: [] }),
    processWatermarkMarker: () => ({ rows: [], deadLetters: [] }),
    keyCounts: () => [],
    snapshot: () => new Uint8Array(),
    checkpointFull: () => new Uint8Array(),
    checkpointDelta: () => new Uint8Array(),
    warmUpSnapshot: () => 0,
  }
  const processor = new PartitionProcessor({ topic, partition: 0, source, task, nextOffset: '0' })
  // The header claims the opposite role: the key decides, because only the key is archived.
  const records = keys.map((k, i) => ({ ...record(String(i), { [REKEY_HEADERS.role]: k === 'eu' ? 'add' : 'retract' }), key: k === null ? null : new TextEncoder().encode(k), topic }))
  processor.processRecords(records, records.map(() => decoded), 0)
  return events.map((e) => (!('role' in e) ? 'none' : 'heldGroup' in e ? `${e.role}@${e.heldGroup}` : String(e.role)))
}

void test('the processor reads the role of a copy off its key (the group it was routed to) on an internal re-key topic', () => {
  // A key no image names is a group the stage took from its row index (a retraction there).
  const keys = ['eu', 'us', 'apac', null]
  assert.deepEqual(rolesSeen(plan.topic, accounts, keys), ['retract', 'add', 'retract@apac', 'none'])
  // As the engine runs a re-keyed view: its own source is the internal topic's.
  assert.deepEqual(rolesSeen(plan.internalSource.topic, plan.internalSource, keys), ['retract', 'add', 'retract@apac', 'none'])
})

void test('a copy of a change whose before image names no group, keyed by another group, retracts the row from it', () => {
  const seen = (decoded: DecodeResult, keys: readonly string[]) => rolesSeen(plan.topic, accounts, keys, decoded)
  // An update without a before image: its after image's copy carries the whole change.
  assert.deepEqual(seen(change('u', null, us), ['us', 'eu']), ['none', 'retract@eu'])
  // A key-only update image whose group column holds a fallback names no group either.
  assert.deepEqual(seen(change('u', { id: 7, region: '', balance: 0 }, us), ['us', 'eu']), ['none', 'retract@eu'])
  // A key-only image naming its group is split as any change.
  assert.deepEqual(seen(change('u', { id: 7, region: 'eu', balance: 0 }, us), ['eu', 'us']), ['retract', 'add'])
  // A key-only delete naming no group: only the row index routes it.
  assert.deepEqual(seen(change('d', keyOnly, null), ['eu']), ['retract@eu'])
  assert.deepEqual(seen(change('d', eu, null), ['eu']), ['none'])
})

void test('no role on the source topic itself, nor on any event source', () => {
  assert.deepEqual(rolesSeen(accounts.topic, accounts, ['eu', 'us']), ['none', 'none'])
  const events = { ...accounts, changes: undefined }
  assert.deepEqual(rolesSeen(plan.topic, events, ['eu', 'us']), ['none', 'none'])
})

void test('partial images: the stage routes a change as its views read it, or refuses it once with the reason', () => {
  const TOAST = '__debezium_unavailable_value'
  const cases: {
    name: string
    decoded: DecodeResult
    source?: SourceDef
    to?: readonly (readonly [string, string | undefined])[]
    refused?: [string, RegExp]
  }[] = [
    {
      name: "a key-only delete holding the group goes to it ('' and 0 outside)",
      decoded: change('d', { id: 7, region: 'eu', balance: 0 }, null),
      to: [['eu', undefined]],
    },
    {
      name: "a key-only delete whose group is a '' fallback names no group (the row index holds none here)",
      decoded: change('d', { id: 7, region: '', balance: 0 }, null),
      refused: ['unknown_retraction', /key-only before image, which names no group, and the stage holds no row 7/],
    },
    {
      name: 'a key-only delete whose group is a placeholder names no group',
      decoded: change('d', { id: 7, region: TOAST, balance: 0 }, null),
      refused: ['unknown_retraction', /key-only before image, which names no group/],
    },
    {
      name: "an update whose after group is the placeholder stays in the before image's group",
      decoded: change('u', eu, { ...us, region: TOAST }),
      to: [['eu', undefined]],
    },
    {
      name: 'a placeholder the before image cannot fill is refused once',
      decoded: change('u', { ...eu, region: null }, { ...us, region: TOAST }),
      refused: ['unavailable_value', /column region of row 7 is the CDC tool's unavailable-value placeholder/],
    },
    {
      name: 'a placeholder in an update without a before image is refused once',
      decoded: change('u', null, { ...us, region: TOAST }),
      refused: ['unavailable_value', /the before image holds no value for it/],
    },
    {
      name: "a source's own placeholder is read as one",
      decoded: change('u', eu, { ...us, region: '??' }),
      source: { ...accounts, changes: { ...accounts.changes!, unavailableValue: '??' } },
      to: [['eu', undefined]],
    },
    {
      name: "Debezium's placeholder is a real group where the source sets its own",
      decoded: change('u', eu, { ...us, region: TOAST }),
      source: { ...accounts, changes: { ...accounts.changes!, unavailableValue: '??' } },
      to: [
        ['eu', 'retract'],
        [TOAST, 'add'],
      ],
    },
    {
      name: 'a commit time of 0 is refused once',
      decoded: change('u', eu, us, 0),
      refused: ['missing_event_time', /ts_ms is 0: a CDC connector writes 0 when it does not know the commit time/],
    },
    {
      name: 'a table source keeps a time of 0 (its rows carry their own event time)',
      decoded: change('u', eu, us, 0),
      source: { ...accounts, changes: { ...accounts.changes!, kind: 'table' } },
      to: [
        ['eu', 'retract'],
        ['us', 'add'],
      ],
    },
  ]
  for (const c of cases) {
    const source = c.source ?? accounts
    const out = routed({ ...plan, source }, record('20'), c.decoded)
    if (c.refused !== undefined) {
      assert.equal(out.forwards, undefined, c.name)
      assert.equal(out.deadLetter?.reason, c.refused[0], c.name)
      assert.match(out.deadLetter?.detail ?? '', c.refused[1], c.name)
      continue
    }
    assert.deepEqual(
      out.forwards?.map((f) => [f.key, f.headers?.[REKEY_HEADERS.role]]),
      c.to,
      c.name,
    )
  }
})
