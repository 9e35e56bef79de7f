/**
 * Issue #20 item 1 on the real stack: a re-keyed view's outcome after crashes equals an
 * uninterrupted run's, row for row.
 *
 * One fixed input — clicks keyed by user over 4 partitions, with in-partition disorder, genuinely
 * late events, unkeyable and undecodable records — is produced with the same keys, partitions and
 * timestamps to two topics, one per run:
 * - run A: `kfs run --until-caught-up`, uninterrupted;
 * - run B: a first `kfs run` process H (a member of the same groups) starts re-keying; a second
 *   engine E1 joins, and H is SIGKILLed while it holds the re-key stage's source partitions — it
 *   stays in the groups until its session expires, so E1's re-key group is partially assigned (the
 *   dead member keeps partitions) — and E1 is SIGKILLed inside that window; a last engine runs to
 *   caught-up.
 * Compared: every view's offline rows (entity, as_of, values, per-entity order) and the dead
 * letters of each run (origin, reason, view; a set: view dead letters are at-least-once, §15).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import { consumedView } from '../../../engine/plan-sources.ts'
import { DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import type { S3ObjectStore } from '../../../adapters/object-store/s3/index.ts'
import { stackObjectStore } from '../../support/stack-store.ts'
import { generateClicks, readInternalTopic, type Click } from '../../fixtures/features/rekey-clicks.ts'
import { runKfs, startKfs, type KfsChild } from '../../support/kfs-process.ts'
import { assertSameRows, waitFor } from '../../support/scenario.ts'
import { newRunId, stackEnv } from '../../support/stack-env.ts'

// Enough transactions (20,000 events each) that the first member is still re-keying when killed,
// however fast the stage runs: at 30,000 it could forward everything before the kill landed.
const EVENTS = Number(process.env.KFS_TEST_REKEY_PARITY_EVENTS ?? 90_000)
const DEAD_LETTER_TOPIC = 'kfs.dead-letters'

interface Run {
  readonly id: string
  readonly env: Record<string, string>
  readonly args: readonly string[]
  readonly store: S3ObjectStore
  readonly views: readonly FeatureViewDef[]
  readonly topic: string
}

async function prepareRun(base: Record<string, string>, dataRoot: string, label: string): Promise<Run> {
  const id = `${newRunId()}${label}`
  process.env.KFS_TEST_RUN = id
  // A fresh module instance per run: the fixture names its topic and views after KFS_TEST_RUN.
  const fixture = (await import(
    `../../fixtures/features/rekey-scoped.ts?run=${id}`
  )) as typeof import('../../fixtures/features/rekey-scoped.ts')
  const env = {
    ...base,
    KFS_TEST_RUN: id,
    KFS_FEATURES: 'test/fixtures/features/rekey-scoped.ts',
    KFS_S3_PREFIX: `it/${id}`,
    KFS_DATA_DIR: join(dataRoot, id),
    KFS_CHECKPOINT_INTERVAL_MS: '1000',
    KFS_CHECKPOINT_MAX_RECORDS: '10000',
  }
  await runKfs(['apply'], env)
  const store = stackObjectStore(base, `it/${id}`)
  const views = [fixture.userClicks, fixture.itemClicks, fixture.itemDwell, fixture.userCategoryClicks]
  return { id, env, args: ['run', '--group', `kfs-${id}`], store, views, topic: fixture.clicks.topic }
}

/**
 * The same records, partitions and timestamps in every run's topic (an undecodable payload after
 * every 500th click). The record timestamps are recent (`producedAtMs` + index), not the clicks'
 * event times: the broker's time retention (7 days) would delete records stamped months ago before
 * the engine read them.
 */
async function produceInput(log: KafkaEventLog, run: Run, clicks: readonly Click[], producedAtMs: number): Promise<void> {
  const registry = new ConfluentSchemaRegistry({ url: run.env.KFS_SCHEMA_REGISTRY_URL! })
  const { clicks: source } = (await import(
    `../../fixtures/features/rekey-scoped.ts?run=${run.id}`
  )) as typeof import('../../fixtures/features/rekey-scoped.ts')
  const encoder = await createEncoder({ registry, subject: `${run.topic}-value`, schema: source.schema })
  await log.createTopic(run.topic, 4)
  for (let i = 0; i < clicks.length; i += 1_000) {
    const records = clicks.slice(i, i + 1_000).flatMap((c, j) => {
      const record = { key: c.user_id, value: encoder.encode(c), timestampMs: producedAtMs + i + j }
      return (i + j + 1) % 500 === 0
        ? [record, { key: c.user_id, value: new Uint8Array([0, 0x7f, 0xff, 0xff, 0xfe, 1]), timestampMs: producedAtMs + i + j }]
        : [record]
    })
    await log.produce(run.topic, records)
  }
}

/** Rows of every view, by entity. */
async function rowsOf(run: Run): Promise<Map<string, Map<string, FeatureRow[]>>> {
  const out = new Map<string, Map<string, FeatureRow[]>>()
  for (const view of run.views)
    out.set(view.name.replace(run.id, '<run>'), await readFeatureRowsByEntity(run.store, consumedView(view)))
  return out
}

/**
 * The dead letters whose origin is one of the run's topics, run id masked, as a sorted set. A
 * record of an internal topic is named by its bytes: its offset there depends on where the re-key
 * stage's transactions (and their commit markers) fell, which a crash changes.
 */
async function deadLettersOf(log: KafkaEventLog, run: Run): Promise<string[]> {
  const seen = new Set<string>()
  let lastAt = Date.now()
  let batches = 0
  const mask = (s: string | undefined) => (s ?? '').replaceAll(run.id, '<run>')
  const consumer = log.consumer({
    groupId: `check-dl-${run.id}`,
    topics: [DEAD_LETTER_TOPIC],
    readCommitted: true,
    fromBeginning: true,
  })
  await consumer.run({
    eachBatch: async (batch) => {
      batches++
      lastAt = Date.now()
      for (const r of batch.records) {
        const h = r.headers
        const origin = h[DEAD_LETTER_HEADERS.topic] ?? ''
        if (!origin.includes(run.id)) continue
        const where = origin.startsWith('kfs.')
          ? createHash('sha1')
              .update(r.value ?? new Uint8Array())
              .digest('hex')
          : h[DEAD_LETTER_HEADERS.offset]
        seen.add(
          [
            mask(origin),
            h[DEAD_LETTER_HEADERS.partition],
            where,
            h[DEAD_LETTER_HEADERS.reason],
            mask(h[DEAD_LETTER_HEADERS.view]),
          ].join(' '),
        )
      }
    },
  })
  await waitFor(() => batches > 0 && Date.now() - lastAt > 3_000, 'dead letters read', 120_000)
  await consumer.stop()
  return [...seen].sort()
}

async function killed(child: KfsChild, what: string): Promise<void> {
  assert.equal(child.child.exitCode, null, `${what} was still running when killed`)
  child.child.kill('SIGKILL')
  const result = await child.done
  assert.equal(result.signal, 'SIGKILL', `${what} ended badly:\n${result.stderr.slice(-2000)}`)
}

void test(`re-keyed views after SIGKILLs in a partially assigned re-key group equal an uninterrupted run: ${EVENTS} clicks`, async () => {
  const base = stackEnv()
  const dataRoot = await mkdtemp(join(tmpdir(), 'kfs-rekey-parity-'))
  const log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
  const runs: Run[] = []
  try {
    const a = await prepareRun(base, dataRoot, 'a')
    const b = await prepareRun(base, dataRoot, 'b')
    runs.push(a, b)
    const clicks = generateClicks({ count: EVENTS, users: 600, items: 1_500, seed: 33, stepMs: 40 })
    const producedAtMs = Date.now()
    await produceInput(log, a, clicks, producedAtMs)
    await produceInput(log, b, clicks, producedAtMs)

    await runKfs([...a.args, '--until-caught-up'], a.env)

    const itemTopic = `kfs.${b.topic}.by-item`
    const forwarded = async () => (await log.endOffsets(itemTopic).catch(() => ['0'])).reduce((n, e) => n + Number(e), 0)
    const h = startKfs(b.args, b.env)
    await waitFor(async () => (await forwarded()) > 0 || h.child.exitCode !== null, 'the first member re-keying', 120_000)
    const e1 = startKfs(b.args, b.env)
    await killed(h, 'the first member')
    // Events, not offsets: an internal record is a bundle of events (engine/rekey-bundle.ts), and
    // the end offsets count commit markers too. E1 cannot forward before H's session expires.
    const forwardedByH = (await readInternalTopic(log, itemTopic, `count-${b.topic}`, 0)).length
    // E1 cannot own the re-key group's partitions before H's session expires (30 s): kill it inside that window.
    await new Promise((r) => setTimeout(r, 8_000))
    await killed(e1, 'the second engine')
    await runKfs([...b.args, '--until-caught-up'], b.env)
    const keyable = clicks.filter((c) => c.item_id !== '').length
    assert.ok(
      forwardedByH < keyable,
      `the first member died part-way through the re-keying (${forwardedByH} of ${keyable} forwarded)`,
    )

    const [rowsA, rowsB] = [await rowsOf(a), await rowsOf(b)]
    for (const [view, expected] of rowsA) assertSameRows(rowsB.get(view)!, expected, `${view}: run with crashes vs uninterrupted`)
    const [lettersA, lettersB] = [await deadLettersOf(log, a), await deadLettersOf(log, b)]
    assert.ok(
      lettersA.some((l) => l.includes(' late ')),
      'the input holds genuinely late events',
    )
    assert.deepEqual(lettersB, lettersA, 'dead letters: run with crashes vs uninterrupted')
  } finally {
    await log.close()
    for (const run of runs) run.store.close()
    await rm(dataRoot, { recursive: true, force: true })
  }
})
