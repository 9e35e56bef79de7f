/**
 * The orders changelog on the real stack (docs/design.md §11), as the changelog tests run it: a
 * run scoped to test/fixtures/features/changes-orders.ts (a Debezium JSON and an Avro source, each
 * feeding an attribute view and a re-keyed current-state view), a changelog file published to both
 * sources, the re-keyed events counted as they commit, and a run's rows checked against a
 * reference run's and the brute force over the changelog.
 */
import assert from 'node:assert/strict'
import type { FeatureViewDef } from '../../features/types.ts'
import type { KafkaEventLog } from '../../adapters/event-log/kafka/index.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import { unbundle } from '../../engine/rekey-bundle.ts'
import type { OrderChange, OrderRow } from '../../examples/generate-tables.ts'
import {
  assertOnlineIsLatest,
  assertSameChangeRows,
  importScoped,
  offlineRows,
  onlineRows,
  prepareChangesRun,
  type ChangesRun,
} from './changes-scenario.ts'
import { runKfs } from './kfs-process.ts'
import { valuesClose, waitFor } from './scenario.ts'

export type OrdersFixture = typeof import('../fixtures/features/changes-orders.ts')

const FEATURES = 'test/fixtures/features/changes-orders.ts'

export interface OrdersRun {
  readonly run: ChangesRun
  readonly fixture: OrdersFixture
  /** Attribute and current-state view of the JSON source, then of the Avro source. */
  readonly views: readonly FeatureViewDef[]
}

export async function prepareOrdersRun(base: Record<string, string>, dataRoot: string, label: string): Promise<OrdersRun> {
  const run = await prepareChangesRun(base, FEATURES, dataRoot, label)
  const fixture = await importScoped<OrdersFixture>('../fixtures/features/changes-orders.ts', run.id)
  return {
    run,
    fixture,
    views: [fixture.orderStateJson, fixture.userOpenOrdersJson, fixture.orderStateAvro, fixture.userOpenOrdersAvro],
  }
}

/** `file` (`count` changes) published to both sources of the run: the same keys, partitions and order on each. */
export async function publishOrders(s: OrdersRun, file: string, count: number): Promise<void> {
  for (const source of [s.fixture.ordersJson, s.fixture.ordersAvro]) {
    const { stdout } = await runKfs(['produce', '--topic', source.topic, '--file', file], s.run.env)
    assert.match(stdout, new RegExp(`produced ${count} to ${source.topic}`))
  }
}

/** A view's name with the run id masked, the same in every run. */
export const unscoped = (s: OrdersRun, name: string): string => name.replaceAll(s.run.id, '<run>')

/** The internal topics the run's current-state views read (their re-key stages' output). */
export const reKeyTopics = (s: OrdersRun): string[] =>
  s.views.filter((v) => v.changeMode === 'current_state').map((v) => consumedView(v).source.topic)

export interface ForwardedCounter {
  readonly count: () => number
  /** The count once it has read for 3 s without a new record. */
  settled(): Promise<number>
  stop(): Promise<void>
}

/**
 * Re-keyed events on the run's internal topics as they commit (bundles unpacked: an internal
 * record holds many events, docs/semantics.md §16), counted by a read-committed reader from the
 * beginning.
 */
export async function forwardedCounter(log: KafkaEventLog, s: OrdersRun): Promise<ForwardedCounter> {
  let count = 0
  let lastAt = Date.now()
  const consumer = log.consumer({
    groupId: `count-${s.run.id}`,
    topics: reKeyTopics(s),
    readCommitted: true,
    fromBeginning: true,
  })
  await consumer.run({
    eachBatch: async (batch) => {
      count += unbundle(batch.records).events.length
      lastAt = Date.now()
    },
  })
  return {
    count: () => count,
    settled: async () => {
      await waitFor(() => count > 0 && Date.now() - lastAt > 3_000, 'the internal topics counted', 120_000)
      return count
    },
    stop: () => consumer.stop(),
  }
}

/**
 * `b`'s offline rows (Iceberg) equal the reference run `a`'s row for row, tombstones included,
 * each view at least `minRows`; `b`'s online rows (Redis) equal `a`'s, the last offline row's and
 * the brute force over `changes` (the changelog with full images: its final rows).
 */
export async function assertSameAsReference(
  redisUrl: string,
  a: OrdersRun,
  b: OrdersRun,
  changes: readonly OrderChange[],
  minRows: number,
  how: string,
): Promise<void> {
  const [rowsA, rowsB] = [await offlineRows(a.run.store, a.views), await offlineRows(b.run.store, b.views)]
  const nowMs = Date.now()
  for (const [i, viewA] of a.views.entries()) {
    const viewB = b.views[i]!
    const what = unscoped(a, viewA.name)
    const expected = rowsA.get(viewA)!
    const rows = assertSameChangeRows(rowsB.get(viewB)!, expected, `${what} offline: ${how}`)
    assert.ok(rows >= minRows, `${what}: ${rows} rows`)
    const keys = [...expected.keys()]
    const [onlineA, onlineB] = [await onlineRows(redisUrl, viewA, keys, nowMs), await onlineRows(redisUrl, viewB, keys, nowMs)]
    keys.forEach((key, k) => {
      assert.deepEqual(onlineB[k], onlineA[k], `${what} online ${key}: ${how}`)
      assertOnlineIsLatest(onlineB[k]!, expected.get(key)!.at(-1)!, `${what} online ${key}`)
    })
    checkBruteForce(changes, viewA.changeMode === 'attributes' ? 'order' : 'user', keys, onlineB, what)
  }
}

/** `kfs verify-parity` of the run's group exits 0, every view's live rows identical to replay. */
export async function assertParity(s: OrdersRun): Promise<void> {
  const parity = await runKfs(['verify-parity', '--group', s.run.group], s.run.env)
  for (const view of s.views)
    assert.match(parity.stdout, new RegExp(`✓ ${view.name}@1: (\\d+)/\\1 live rows identical to replay`), parity.stdout)
}

/** Online rows against the changelog's final state, computed by brute force. */
function checkBruteForce(
  changes: readonly OrderChange[],
  kind: 'order' | 'user',
  keys: readonly string[],
  online: readonly { status: string; values: readonly unknown[] }[],
  what: string,
): void {
  const finalRows = new Map<string, OrderRow | null>()
  for (const c of changes) finalRows.set((c.after ?? c.before)!.order_id, c.after)
  if (kind === 'order') {
    keys.forEach((key, k) => {
      const row = finalRows.get(key)
      assert.ok(row !== undefined, `${what}: ${key} is an order of the changelog`)
      if (row === null) assert.equal(online[k]!.status, 'MISSING', `${what}: deleted order ${key}`)
      else assert.deepEqual(online[k]!.values, [row.user_id, row.amount, row.status], `${what}: order ${key}`)
    })
    return
  }
  const open = new Map<string, { count: number; sum: number }>()
  for (const row of finalRows.values()) {
    if (row === null || row.status !== 'open') continue
    const g = open.get(row.user_id) ?? { count: 0, sum: 0 }
    open.set(row.user_id, { count: g.count + 1, sum: g.sum + row.amount })
  }
  let withOpen = 0
  keys.forEach((key, k) => {
    const g = open.get(key)
    if (g === undefined) {
      assert.ok(online[k]!.status !== 'PRESENT' || online[k]!.values[0] === 0, `${what}: user ${key} has no open order`)
      return
    }
    withOpen++
    const [count, sum] = online[k]!.values
    assert.ok(
      count === g.count && valuesClose(sum, g.sum),
      `${what}: user ${key} open orders ${JSON.stringify([count, sum])} vs ${JSON.stringify([g.count, g.sum])}`,
    )
  })
  assert.equal(withOpen, open.size, `${what}: every user with open orders is online`)
}
