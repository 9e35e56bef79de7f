/**
 * Current-state views over a changelog without full before images, on the real stack (Kafka,
 * registry, Redis, MinIO; docs/design.md §11): what Debezium sends for a Postgres table under
 * REPLICA IDENTITY DEFAULT — an update with no before image, a delete whose before image holds the
 * primary key only (its other NOT NULL columns Debezium's fallbacks, '' and 0).
 *
 * One orders changelog (examples/generate-tables.ts orderChanges: opens, amount changes, orders
 * moving to another user, shipping, deletes) is published to a Debezium JSON and an Avro source,
 * in two runs:
 * - run A: the changelog with full images, `kfs run --until-caught-up` uninterrupted — the reference;
 * - run B: the same changes with the images REPLICA IDENTITY DEFAULT gives, through a `kfs run`
 *   SIGKILLed mid-stream twice, then restarted to caught-up. Only the re-key stage's row index
 *   knows which user an order left when it moved, or was deleted from.
 * Then B refused none of its changes (no dead letter), its offline (Iceberg) and online (Redis) rows
 * of every view — re-keyed current-state and attribute — equal A's row for row and the brute force,
 * and verify-parity passes for B's views.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { consumedView } from '../../../engine/plan-sources.ts'
import { orderChanges, type OrderChange, type OrderRow } from '../../../examples/generate-tables.ts'
import type { SourceDef } from '../../../features/types.ts'
import { killWhenDue } from '../../support/changes-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import {
  assertParity,
  assertSameAsReference,
  forwardedCounter,
  prepareOrdersRun,
  publishOrders,
  type OrdersRun,
} from '../../support/orders-changelog.ts'
import { stackEnv } from '../../support/stack-env.ts'

const CHANGES = Number(process.env.KFS_TEST_DEFAULT_IDENTITY_CHANGES ?? 4_000)
const SEED = 29

let base: Record<string, string>
let dataRoot: string
let log: KafkaEventLog
let changes: OrderChange[]
let a: OrdersRun
let b: OrdersRun

/**
 * The value Debezium puts in a column a key-only before image does not carry: null for a nullable
 * column, the type's fallback for a NOT NULL one (its schema is not optional).
 */
function debeziumFallback(type: unknown): unknown {
  if (Array.isArray(type) && type.includes('null')) return null
  if (type === 'string') return ''
  if (type === 'int' || type === 'long' || type === 'float' || type === 'double') return 0
  if (type === 'boolean') return false
  throw new Error(`no Debezium fallback for column type ${JSON.stringify(type)}`)
}

/** A change as Debezium sends it under REPLICA IDENTITY DEFAULT: updates lose their before image, deletes keep the key only. */
function underDefaultIdentity(source: SourceDef, primaryKey: readonly string[]): (c: OrderChange) => OrderChange {
  const columns = source.changes!.rowSchema.fields as readonly { readonly name: string; readonly type: unknown }[]
  return (c) => {
    if (c.op === 'u') return { ...c, before: null }
    if (c.op !== 'd') return c
    const row = c.before!
    const keyOnly = Object.fromEntries(
      columns.map((f) => [f.name, primaryKey.includes(f.name) ? row[f.name as keyof OrderRow] : debeziumFallback(f.type)]),
    )
    return { ...c, before: keyOnly as unknown as OrderRow }
  }
}

/** The dead letters of a source's records (refused by its re-key stage or by any of its views), by reason. */
async function deadLettersOf(s: OrdersRun, source: SourceDef): Promise<{ byReason: Record<string, number>; first: unknown[] }> {
  const listed = await startKfs(['dead-letters', 'list', '--topic', source.topic, '--limit', '3', '--json'], s.run.env).done
  // Exit 1: no letter matches the topic.
  assert.ok(listed.code === 0 || listed.code === 1, `kfs dead-letters list exited ${listed.code}:\n${listed.stderr}`)
  const json = JSON.parse(listed.stdout) as {
    byReason: Record<string, number>
    list: { reason: string; detail: string; view: string | null }[]
  }
  return { byReason: json.byReason, first: json.list.map((l) => ({ reason: l.reason, view: l.view, detail: l.detail })) }
}

const writeChanges = async (name: string, list: readonly OrderChange[]): Promise<string> => {
  const file = join(dataRoot, name)
  await writeFile(file, list.map((c) => JSON.stringify(c)).join('\n') + '\n')
  return file
}

void describe('changelog without full before images (Postgres REPLICA IDENTITY DEFAULT) on Kafka: re-keyed current-state views', () => {
  before(async () => {
    base = stackEnv()
    dataRoot = await mkdtemp(join(tmpdir(), 'kfs-it-default-identity-'))
    log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
    a = await prepareOrdersRun(base, dataRoot, 'a')
    b = await prepareOrdersRun(base, dataRoot, 'b')
    const meanGapMs = 100
    // Recent commit times: the views' TTL (30 d) keeps every row online.
    changes = orderChanges({
      count: CHANGES,
      users: 300,
      seed: SEED,
      startMs: Date.now() - CHANGES * meanGapMs - 3_600_000,
      meanGapMs,
    })
    const moves = changes.filter((c) => c.op === 'u' && c.before!.user_id !== c.after!.user_id)
    const shipped = changes.filter((c) => c.op === 'u' && c.before!.status !== c.after!.status)
    assert.ok(moves.length > 0 && shipped.length > 0 && changes.some((c) => c.op === 'd'), 'moves, shipping and deletes')
    const defaultIdentity = changes.map(underDefaultIdentity(b.fixture.ordersJson, b.fixture.order.joinKeys))
    assert.deepEqual(defaultIdentity.find((c) => c.op === 'd')?.before, {
      ...changes.find((c) => c.op === 'd')!.before!,
      user_id: '',
      amount: 0,
      status: '',
    })
    await publishOrders(a, await writeChanges('full.ndjson', changes), CHANGES)
    await publishOrders(b, await writeChanges('default-identity.ndjson', defaultIdentity), CHANGES)
    await runKfs([...a.run.runArgs, '--until-caught-up'], a.run.env)
  })

  after(async () => {
    await log?.close()
    a?.run.store.close()
    b?.run.store.close()
    if (dataRoot !== undefined) await rm(dataRoot, { recursive: true, force: true })
  })

  void test(`${CHANGES} changes per source (seed ${SEED}), updates without before images and key-only deletes, kfs run SIGKILLed twice: no dead letter, rows equal the full-image run's, verify-parity passes`, async () => {
    // Created as the engine creates them, so the counter reads them from the start.
    for (const view of b.views)
      if (view.changeMode === 'current_state')
        await log.createTopic(consumedView(view).source.topic, consumedView(view).source.partitions)
    const counterA = await forwardedCounter(log, a)
    const total = await counterA.settled()
    await counterA.stop()
    assert.ok(total > CHANGES, `the reference run re-keyed both sources (${total} events)`)
    const counterB = await forwardedCounter(log, b)
    for (const [i, share] of [0.15, 0.5].entries()) {
      const engine = startKfs(b.run.runArgs, b.run.env)
      await killWhenDue(engine, async () => counterB.count() >= share * total, `kfs run ${i}`)
      // Everything that had committed when the process died, read to the end.
      const atKill = await counterB.settled()
      assert.ok(atKill < total, `kfs run ${i} died mid-stream (${atKill} of ${total} re-keyed events)`)
    }
    await counterB.stop()
    await runKfs([...b.run.runArgs, '--until-caught-up'], b.run.env)

    for (const s of [a, b])
      for (const source of [s.fixture.ordersJson, s.fixture.ordersAvro]) {
        const letters = await deadLettersOf(s, source)
        assert.deepEqual(
          letters.byReason,
          {},
          `run ${s === a ? 'A (full images)' : 'B (default identity)'}, ${source.topic}: dead letters ${JSON.stringify(letters.first)}`,
        )
      }
    await assertSameAsReference(
      base.KFS_REDIS_URL!,
      a,
      b,
      changes,
      CHANGES / 2,
      'REPLICA IDENTITY DEFAULT images with kills vs full images uninterrupted',
    )
    await assertParity(b)
  })
})
