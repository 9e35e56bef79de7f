/**
 * Issue #15 on the real stack (Kafka, registry, Redis, MinIO): changelog sources (docs/design.md §11).
 *
 * One orders changelog (examples/generate-tables.ts orderChanges: opens, amount changes, orders
 * moving to another user, shipping, deletes) is published with `kfs produce --file` to a Debezium
 * JSON source and to an Avro (change envelope) source, in two runs:
 * - run A: `kfs run --until-caught-up`, uninterrupted — the reference;
 * - run B: a `kfs run` child SIGKILLed mid-stream twice, then restarted to caught-up.
 * Each source feeds an attribute view (an order's current row) and a re-keyed current-state view
 * (open orders per user). Then:
 * 1. B's offline rows (Iceberg on MinIO) equal A's row for row, tombstones included; B's online
 *    rows (Redis) equal A's and the brute force over the changelog; verify-parity exits 0 for all views;
 * 3. PyIceberg reads the attribute view's table (its `deleted` column true on tombstones) and the
 *    current-state view's table as kfs wrote them.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { consumedView } from '../../../engine/plan-sources.ts'
import type { FeatureRow } from '../../../features/types.ts'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { loadTable, metadataKey } from '../../../adapters/offline/iceberg/index.ts'
import { featureTablePath } from '../../../adapters/offline/iceberg/table-paths.ts'
import { orderChanges, type OrderChange } from '../../../examples/generate-tables.ts'
import { offlineRows, pyicebergPython, sigkill } from '../../support/changes-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import {
  assertParity,
  assertSameAsReference,
  forwardedCounter,
  prepareOrdersRun,
  publishOrders,
  unscoped,
  type OrdersRun,
} from '../../support/orders-changelog.ts'
import { waitFor } from '../../support/scenario.ts'
import { stackEnv } from '../../support/stack-env.ts'

const CHANGES = Number(process.env.KFS_TEST_CHANGELOG_CHANGES ?? 12_000)
const execFileP = promisify(execFile)
const SCAN = fileURLToPath(new URL('../../../scripts/pyiceberg/scan.py', import.meta.url))

let base: Record<string, string>
let dataRoot: string
let log: KafkaEventLog
let changes: OrderChange[]
let a: OrdersRun
let b: OrdersRun

void describe('changelog sources on Kafka: Debezium JSON and Avro changes, attribute and re-keyed current-state views', () => {
  before(async () => {
    base = stackEnv()
    dataRoot = await mkdtemp(join(tmpdir(), 'kfs-it-changelog-'))
    log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
    a = await prepareOrdersRun(base, dataRoot, 'a')
    b = await prepareOrdersRun(base, dataRoot, 'b')
    const meanGapMs = 100
    // Recent commit times: the views' TTL (30 d) keeps every row online.
    changes = orderChanges({ count: CHANGES, users: 300, seed: 23, startMs: Date.now() - CHANGES * meanGapMs - 3_600_000, meanGapMs })
    assert.ok(changes.some((c) => c.op === 'd') && changes.some((c) => c.op === 'u' && c.before!.user_id !== c.after!.user_id), 'deletes and moves')
    const file = join(dataRoot, 'orders.ndjson')
    await writeFile(file, changes.map((c) => JSON.stringify(c)).join('\n') + '\n')
    await publishOrders(a, file, CHANGES)
    await publishOrders(b, file, CHANGES)
    await runKfs([...a.run.runArgs, '--until-caught-up'], a.run.env)
  })

  after(async () => {
    await log?.close()
    a?.run.store.close()
    b?.run.store.close()
    if (dataRoot !== undefined) await rm(dataRoot, { recursive: true, force: true })
  })

  void test(`${CHANGES} changes per source, kfs run SIGKILLed twice mid-stream: offline and online rows equal the uninterrupted run and the brute force, verify-parity passes`, async () => {
    // Created as the engine creates them, so their end offsets can be watched from the start.
    for (const view of b.views) if (view.changeMode === 'current_state') await log.createTopic(consumedView(view).source.topic, consumedView(view).source.partitions)
    const counterA = await forwardedCounter(log, a)
    const total = await counterA.settled()
    await counterA.stop()
    assert.ok(total > CHANGES, `the reference run re-keyed both sources (${total} records)`)
    const counterB = await forwardedCounter(log, b)
    const forwarded = async () => counterB.count()
    for (const [i, share] of [0.15, 0.5].entries()) {
      const engine = startKfs(b.run.runArgs, b.run.env)
      await waitFor(async () => (await forwarded()) >= share * total || engine.child.exitCode !== null, `run ${i} re-keying`, 120_000)
      await sigkill(engine, `kfs run ${i}`)
      // Everything that had committed when the process died, read to the end.
      const atKill = await counterB.settled()
      assert.ok(atKill < total, `kfs run ${i} died mid-stream (${atKill} of ${total} re-keyed records)`)
    }
    await counterB.stop()
    await runKfs([...b.run.runArgs, '--until-caught-up'], b.run.env)

    await assertSameAsReference(base.KFS_REDIS_URL!, a, b, changes, CHANGES / 2, 'run with kills vs uninterrupted')
    await assertParity(b)
  })

  void test('PyIceberg reads the attribute view (deleted = true on tombstones) and the current-state view as kfs wrote them', async () => {
    const python = await pyicebergPython()
    const rows = await offlineRows(a.run.store, [a.fixture.orderStateJson, a.fixture.userOpenOrdersJson])
    for (const view of [a.fixture.orderStateJson, a.fixture.userOpenOrdersJson]) {
      const table = await loadTable(a.run.store, featureTablePath(view))
      const { stdout } = await execFileP(python, [SCAN, a.run.store.uriOf(metadataKey(table.path, table.version))], { env: process.env, maxBuffer: 256 * 1024 * 1024 })
      const scanned = JSON.parse(stdout) as { schema: { fields: { name: string; type: unknown }[] }; rows: Record<string, unknown>[] }
      const columns = scanned.schema.fields.map((f) => [f.name, f.type])
      const features = view.features.map((f) => f.name)
      const expected = [...rows.get(view)!.values()].flat()
      const asRead = (r: Record<string, unknown>) => JSON.stringify([r.entity_key, r.as_of, ...features.map((f) => r[f]), r.deleted === true])
      const asWritten = (r: FeatureRow) => JSON.stringify([r.entityKey, r.asOfMs, ...r.values, r.deleted === true])
      assert.deepEqual(scanned.rows.map(asRead).sort(), expected.map(asWritten).sort(), `${unscoped(a, view.name)}: PyIceberg rows`)
      if (view.changeMode === 'attributes') {
        assert.deepEqual(columns.at(-1), ['deleted', 'boolean'], 'the attribute table ends with its deleted column')
        const tombstones = scanned.rows.filter((r) => r.deleted === true)
        const deletes = changes.filter((c) => c.op === 'd')
        assert.equal(tombstones.length, deletes.length, 'one tombstone per delete')
        for (const t of tombstones) assert.ok(features.every((f) => t[f] === null), 'a tombstone has no feature values')
        const first = deletes[0]!
        const tombstone = tombstones.find((t) => t.entity_key === encodeEntityKey([first.before!.order_id]))
        assert.deepEqual(tombstone && { as_of: tombstone.as_of, deleted: tombstone.deleted }, { as_of: first.source.ts_ms, deleted: true }, `the delete of ${first.before!.order_id} reads as a tombstone`)
        assert.ok(scanned.rows.every((r) => r.deleted === true || r.deleted === null), 'deleted is true or null')
      } else {
        assert.ok(!columns.some(([name]) => name === 'deleted'), 'a current-state table has no deleted column')
      }
    }
  })
})
