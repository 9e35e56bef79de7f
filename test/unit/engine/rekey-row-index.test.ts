/**
 * The re-key stage's row index (engine/rekey-row-index.ts) on the embedded log: a changelog without
 * full before images (Postgres REPLICA IDENTITY DEFAULT: updates without one, deletes with the key
 * only) is routed by the group the index holds for the row, and the index survives a new owner —
 * read back from its state topic, as of the committed offsets, never from an open transaction.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RowGroupIndex, rowGroupsTopic } from '../../../engine/rekey-row-index.ts'
import { rekeyGroupId } from '../../../engine/rekey-stage.ts'
import { scanTopics } from '../../../engine/topic-scan.ts'
import { orders } from '../../fixtures/features/change-faults.ts'
import { GROUP, indexOf, internalCopies, plan, runStage, withOrdersLog } from '../../support/rekey-row-index-stage.ts'

const T0 = Date.now() - 60_000
const row = (order: string, user: string, amount = 1) => ({ order_id: order, user_id: user, amount, status: 'open' })

/** A Debezium JSON change of `order`, keyed by it, committed at T0 + i seconds. */
function change(i: number, op: string, before: object | null, after: object | null): { key: string; value: Uint8Array } {
  const order = ((after ?? before) as { order_id: string }).order_id
  return {
    key: order,
    value: new TextEncoder().encode(
      JSON.stringify({ op, before, after, ts_ms: T0 + i * 1_000, source: { ts_ms: T0 + i * 1_000 } }),
    ),
  }
}

void describe('re-key stage > row index', () => {
  void test('the index is what its state topic says: the group and version of each row, a deleted row keeping its version', () => {
    const index = new RowGroupIndex()
    index.apply({ pk: 'a', kind: 'upsert', to: 'u1', byIndex: true }, 10)
    index.apply({ pk: 'b', kind: 'upsert', to: 'u2', byIndex: false }, 11)
    index.apply({ pk: 'a', kind: 'upsert', to: undefined, byIndex: false }, 12)
    index.apply({ pk: 'b', kind: 'delete', to: undefined, byIndex: false }, 13)
    index.apply({ pk: 'c', kind: 'upsert', to: 'u3', byIndex: false }, undefined)
    const writes = index.takeWrites()
    assert.deepEqual(
      writes.map((w) => [w.key, w.value && new TextDecoder().decode(w.value), w.headers?.['kfs-commit-time']]),
      [
        ['a', 'u1', '12'],
        ['b', '\u0000', '13'],
        ['c', 'u3', undefined],
      ],
    )
    assert.deepEqual(index.takeWrites(), [], 'each change is written once')
    const record = (key: string, value: Uint8Array | null, headers: Record<string, string> = {}, i = 0) => ({
      topic: 't',
      partition: 0,
      offset: String(i),
      key: new TextEncoder().encode(key),
      value,
      timestampMs: 0,
      headers,
    })
    const restored = new RowGroupIndex()
    restored.load(writes.map((w, i) => record(w.key as string, w.value, w.headers, i)))
    assert.deepEqual(
      ['a', 'b', 'c'].map((k) => [restored.groupOf(k), restored.versionOf(k)]),
      [
        ['u1', 12],
        [undefined, 13],
        ['u3', undefined],
      ],
    )
    assert.equal(restored.size, 3, 'a deleted row is kept for its version')
    // What a stage before versions wrote: a group without the header, a tombstone for a deleted row.
    const old = new RowGroupIndex()
    old.load([record('a', new TextEncoder().encode('u1')), record('b', new TextEncoder().encode('u2')), record('b', null)])
    assert.deepEqual([old.groupOf('a'), old.versionOf('a'), old.groupOf('b'), old.size], ['u1', undefined, undefined, 1])
  })

  void test('updates without a before image and key-only deletes go to the row’s group, across a new owner and a crashed one', async () => {
    await withOrdersLog(async (log) => {
      await log.produce(orders.topic, [
        change(0, 'c', null, row('o1', 'u1')),
        change(1, 'c', null, row('o2', 'u1')),
        change(2, 'r', null, row('o3', 'u3')),
      ])
      await runStage(log)
      assert.deepEqual(await indexOf(log), { o1: `u1@${T0}`, o2: `u1@${T0 + 1_000}`, o3: `u3@${T0 + 2_000}` })

      // A crashed owner: its transaction wrote a wrong index entry and never committed.
      const zombie = await log.transaction(rekeyGroupId(GROUP, plan))
      await zombie.produce(rowGroupsTopic(plan.topic), [{ key: 'o1', value: new TextEncoder().encode('u9') }])

      // o1 moves to u2 with no before image; o2 is deleted with its key only (NOT NULL columns as Debezium's fallbacks); o3 changes in place.
      await log.produce(orders.topic, [
        change(3, 'u', null, row('o1', 'u2')),
        change(4, 'd', { order_id: 'o2', user_id: '', amount: 0, status: '' }, null),
        change(5, 'u', null, row('o3', 'u3', 7)),
      ])
      await runStage(log)
      const copies = await internalCopies(log)
      const offsetOf = async (order: string, nth: number) => {
        const found: string[] = []
        await scanTopics(
          log,
          [orders.topic],
          (_t, rs) =>
            void found.push(
              ...rs.filter((r) => new TextDecoder().decode(r.key!) === order).map((r) => `${r.partition}/${r.offset}`),
            ),
          { groupPrefix: 'find' },
        )
        return found[nth]!
      }
      const [o1u, o2d, o3u] = [await offsetOf('o1', 1), await offsetOf('o2', 1), await offsetOf('o3', 1)]
      const of = (offset: string) => copies.filter((c) => c[1] === offset).map((c) => [c[0], c[2]])
      assert.deepEqual(
        of(o1u),
        [
          ['u2', 'add'],
          ['u1', 'retract'],
        ],
        'o1 leaves u1 and joins u2',
      )
      assert.deepEqual(of(o2d), [['u1', 'retract']], 'the key-only delete goes to the group the index holds')
      assert.deepEqual(of(o3u), [['u3', '-']], 'a change in place: one copy')
      assert.deepEqual(
        await indexOf(log),
        { o1: `u2@${T0 + 3_000}`, o2: `-@${T0 + 4_000}`, o3: `u3@${T0 + 5_000}` },
        'the aborted entry is not read back; a deleted row keeps its version',
      )
    })
  })
  void test('a stage that ran before it kept an index (committed offsets, no state) rebuilds it from the records it had forwarded', async () => {
    await withOrdersLog(async (log) => {
      await log.produce(orders.topic, [
        change(0, 'c', null, row('o1', 'u1')),
        change(1, 'c', null, row('o2', 'u1')),
        change(2, 'u', null, row('o2', 'u3')),
      ])
      // What an earlier kfs left: the records forwarded (not needed here) and its offsets committed.
      const old = await log.transaction(rekeyGroupId(GROUP, plan))
      const ends = await log.endOffsets(orders.topic)
      await old.sendOffsets(
        rekeyGroupId(GROUP, plan),
        ends.map((offset, partition) => ({ topic: orders.topic, partition, offset })),
      )
      await old.commit()
      await log.produce(orders.topic, [
        change(3, 'u', null, row('o1', 'u2')),
        change(4, 'd', { order_id: 'o2', user_id: '', amount: 0, status: '' }, null),
      ])
      await runStage(log)
      const copies = (await internalCopies(log)).map((c) => [c[0], c[2]])
      assert.deepEqual(
        copies.sort(),
        [
          ['u1', 'retract'],
          ['u2', 'add'],
          ['u3', 'retract'],
        ].sort(),
        'o1 leaves u1 for u2; o2 is deleted from u3, where it last moved',
      )
      assert.deepEqual(
        await indexOf(log),
        { o1: `u2@${T0 + 3_000}`, o2: `-@${T0 + 4_000}` },
        'the rebuilt index went out with the first transaction',
      )
    })
  })
})
