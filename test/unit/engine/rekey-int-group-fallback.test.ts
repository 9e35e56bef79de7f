/**
 * Key-only before images of a table whose group column is a NOT NULL integer. Postgres under
 * REPLICA IDENTITY DEFAULT logs a delete's primary key only (MySQL's minimal row image an update's
 * too); Debezium sends the other NOT NULL columns as their type's fallback, 0 for a number
 * (docs/table-and-changelog-sources.md, "Partial images") — and 0 is a valid int key. The fallback
 * names no group: the stage routes by the group its row index holds (where a real group 0 is
 * found), and the views read each copy's part off the same images.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { changelogSource, entity, featureView } from '../../../features/index.ts'
import { planRekeys } from '../../../engine/plan-sources.ts'
import { rekeyRecords, REKEY_HEADERS } from '../../../engine/rekey-stage.ts'
import { roleOf } from '../../../engine/partition-processor.ts'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'

const rowSchema = {
  type: 'record',
  name: 'IntOrderRow',
  namespace: 'faults',
  fields: [
    { name: 'order_id', type: 'long' },
    { name: 'user_id', type: 'long' },
    { name: 'amount', type: 'double' },
  ],
} as const
const order = entity({ name: 'int_order', joinKeys: ['order_id'], keyType: 'int', description: 'An order' })
const user = entity({ name: 'int_user', joinKeys: ['user_id'], keyType: 'int', description: 'A user' })
const source = changelogSource({
  name: 'int_orders',
  topic: 'int.orders',
  schema: rowSchema,
  keyedBy: order,
  format: 'json',
  partitions: 1,
  description: 'Orders with integer ids',
})
const totals = featureView({
  name: 'int_user_totals',
  version: 1,
  entity: user,
  source,
  ttl: '30d',
  freshnessSla: '5m',
  owner: 'faults@kfs',
  aggregations: [{ op: 'count' }, { op: 'sum', field: 'amount' }],
  description: 'Orders per user',
})

const plan = planRekeys([totals])[0]!
const decoder = createChangeJsonDecoder({ rowSchema: source.changes!.rowSchema })
const T = Date.now() - 10_000

function record(offset: number, change: object) {
  const order = String(
    (
      (change as { after?: { order_id: number }; before?: { order_id: number } }).after ??
      (change as { before: { order_id: number } }).before
    ).order_id,
  )
  const value = new TextEncoder().encode(JSON.stringify({ ...change, ts_ms: T + offset, source: { ts_ms: T + offset } }))
  return {
    topic: source.topic,
    partition: 0,
    offset: String(offset),
    key: new TextEncoder().encode(order),
    value,
    timestampMs: T + 100,
    headers: {},
  }
}

/** [group, role header] of every copy the stage forwards for `changes`, in order, one index throughout. */
async function copiesOf(changes: readonly object[]): Promise<string[][]> {
  const records = changes.map((c, i) => record(i, c))
  const out = rekeyRecords(plan, records, await decoder.decodeBatch(records.map((r) => r.value)))
  assert.deepEqual(out.deadLetters, [])
  return out.records.map((r) => [String(r.key), r.headers?.[REKEY_HEADERS.role] ?? '-'])
}

void test('a key-only delete whose integer group column holds the fallback 0 goes to the group the row index holds', async () => {
  const copies = await copiesOf([
    { op: 'c', before: null, after: { order_id: 7, user_id: 42, amount: 5 } },
    { op: 'd', before: { order_id: 7, user_id: 0, amount: 0 }, after: null },
  ])
  assert.deepEqual(copies, [
    ['42', '-'],
    ['42', 'retract'],
  ])
})

void test('a key-only update image (MySQL minimal) with the fallback 0 retracts from the held group and adds to the new one, never group 0', async () => {
  const update = { op: 'u', before: { order_id: 8, user_id: 0, amount: 0 }, after: { order_id: 8, user_id: 43, amount: 6 } }
  const copies = await copiesOf([{ op: 'c', before: null, after: { order_id: 8, user_id: 42, amount: 5 } }, update])
  assert.deepEqual(copies, [
    ['42', '-'],
    ['42', 'retract'],
    ['43', 'add'],
  ])
  // The views read each copy's part off its key and the same images (the archive keeps no headers).
  const event = (await decoder.decodeBatch([record(1, update).value]))[0]!
  assert.ok(event.ok)
  const read = (group: string) =>
    roleOf(plan.topic, plan.internalSource, { ...record(1, update), key: new TextEncoder().encode(group) }, user, event.event)
  assert.deepEqual(read('43'), undefined, 'the after group: the whole change there (no other image names a group)')
  assert.deepEqual(read('42'), { role: 'retract', heldGroup: '42' }, 'the held group: retract what it holds')
})

void test('a real group 0 is found through the row index', async () => {
  const copies = await copiesOf([
    { op: 'c', before: null, after: { order_id: 9, user_id: 0, amount: 5 } },
    { op: 'd', before: { order_id: 9, user_id: 0, amount: 0 }, after: null },
  ])
  assert.deepEqual(copies, [
    ['0', '-'],
    ['0', 'retract'],
  ])
})
