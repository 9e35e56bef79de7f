/**
 * appendPlan's columnar path (envelopes assembled from rows written ahead, records packed) against
 * the object path it replaced (an envelope object per append through the Encoder, `produce`): on
 * a random snapshot planned against a log that already knows some keys — creates, updates whose
 * before image is the log's row or an earlier row of the same snapshot — both leave the very same
 * segment files, byte for byte; so does `produce` of unpacked records, the path of a log without
 * `producePacked`.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { systemClock, type Clock } from '../../../core/clock.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { appendPlan } from '../../../ingest/append-plan.ts'
import { LogState, rowFingerprint } from '../../../ingest/log-state.ts'
import { SnapshotPlanner } from '../../../ingest/plan-snapshot.ts'
import { rowColumns } from '../../../ingest/row-columns.ts'
import { RowImages } from '../../../ingest/row-images.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import type { TableRow } from '../../../ports/table-snapshots.ts'
import { createChangeEnvelopeWriter } from '../../../schemas/change-envelope-writer.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { prng } from '../training/fixtures.ts'
import { accountRow, accountsSource } from './fixtures.ts'
import { forwardingLog } from './logs.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-append-plan-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsSource()
const columns = rowColumns(accountRow)
const clock: Clock = { ...systemClock, nowMs: () => 1_700_000_000_000 }

function randomRows(seed: number, n: number): TableRow[] {
  const rnd = prng(seed)
  const ids = ['a', 'b', 'é-ü', '中文', 'x\uD800', 'k'.repeat(70), ...Array.from({ length: 40 }, (_, i) => `acct-${i}`)]
  return Array.from({ length: n }, () => ({
    account_id: rnd.pick(ids),
    updated_at: 1_000 + rnd.int(0, 50),
    balance: rnd.pick([0, -0, 1.5, NaN, rnd.next() * 1e9]),
    tier: rnd.pick([null, 'gold', 'sïlver', 'p'.repeat(80)]),
    visits: rnd.pick([null, 0, -5, 2 ** 40, -(2 ** 52) - 1, 2 ** 53 - 1]),
  }))
}

/** Every segment file of the topic's partitions, by relative path. */
function segments(logDir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  const topicDir = join(logDir, 'topics', source.topic)
  for (const p of readdirSync(topicDir).filter((n) => /^\d+$/.test(n)))
    for (const f of readdirSync(join(topicDir, p))) out[`${p}/${f}`] = readFileSync(join(topicDir, p, f))
  return out
}

/** A random snapshot of 400 rows planned against a log that knows 30 versions, its rows written ahead in 1 KiB chunks. */
async function plannedSnapshot() {
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const writer = createChangeEnvelopeWriter(source.schema, encoder.schemaId)
  assert.ok(writer !== undefined)
  // The log already holds a version of some keys: their appends are updates of the log's row.
  const state = new LogState()
  for (const row of randomRows(1, 30))
    state.record(row.account_id as string, row.updated_at as number, row, rowFingerprint(columns, row))
  const planner = new SnapshotPlanner({
    columns,
    primaryKey: ['account_id'],
    rowTimeField: 'updated_at',
    snapshotId: 'snap-1',
    log: state,
  })
  // Chunks of 1 KiB: the rows span many.
  const images = new RowImages(writer, 1024)
  // The same, its layout sized for the snapshot's rows at once (as ingestSnapshot does when the reader knows their count).
  const presized = new RowImages(writer, 1024, 400)
  // In batches, rows written as they come (as ingestSnapshot does).
  const rows = randomRows(2, 400)
  for (let i = 0; i < rows.length; i += 64) {
    planner.add(rows.slice(i, i + 64))
    images.encode(planner.keys, planner.ts, planner.chunks)
    presized.encode(planner.keys, planner.ts, planner.chunks)
  }
  const plan = planner.finish()
  // As into a log that is not empty: only the appended rows, written once the plan is made.
  const appendedOnly = new RowImages(writer, 1024)
  appendedOnly.encode(planner.keys, planner.ts, planner.chunks, plan.slots)
  assert.ok(plan.length > 100)
  const ops = new Set(Array.from({ length: plan.length }, (_, i) => plan.at(i).envelope.op))
  assert.deepEqual([...ops].sort(), ['c', 'u'])
  return { encoder, images, presized, appendedOnly, plan }
}

void describe('appendPlan', () => {
  void it('writes the same segment bytes from columns, packed, as envelope objects through the Encoder and produce', async () => {
    const { encoder, images, presized, appendedOnly, plan } = await plannedSnapshot()
    const run = async (name: string, withImages: RowImages | undefined, packed: boolean): Promise<Record<string, Buffer>> => {
      const logDir = join(dir, name)
      const log = new EmbeddedEventLog({ dir: logDir, fsync: 'never', clock })
      await log.createTopic(source.topic, source.partitions)
      // Without producePacked: the log as a Kafka one looks to appendPlan.
      const target: EventLog = packed ? log : forwardingLog(log)
      await appendPlan(
        {
          log: target,
          topic: source.topic,
          encoder,
          images: withImages,
          chunkRecords: 37,
          onChunk: () => {},
        },
        plan,
      )
      await log.close()
      return segments(logDir)
    }
    const reference = await run('objects', undefined, false)
    assert.deepEqual(await run('images-packed', images, true), reference)
    assert.deepEqual(await run('images-unpacked', images, false), reference)
    assert.deepEqual(await run('appended-images-packed', appendedOnly, true), reference)
    assert.deepEqual(await run('presized-images-packed', presized, true), reference)
  })

  void it('a failed append returns only once every append already asked has settled', async () => {
    const { encoder, images, plan } = await plannedSnapshot()
    // A log whose second packed append fails, thrown at once or rejected, while the first is still being written.
    for (const failure of ['thrown', 'rejected'] as const) {
      let release: () => void = () => {}
      let firstSettled = false
      let calls = 0
      const log = {
        producePacked: () => {
          calls++
          if (calls === 1)
            return new Promise<void>((resolve) => (release = resolve)).then(() => {
              firstSettled = true
            })
          if (failure === 'thrown') throw new Error('disk full')
          return Promise.reject(new Error('disk full'))
        },
      } as unknown as EventLog
      let outcome: string | undefined
      const done = appendPlan({ log, topic: source.topic, encoder, images, chunkRecords: 37, onChunk: () => {} }, plan).then(
        () => (outcome = 'resolved'),
        (err: unknown) => (outcome = `rejected: ${(err as Error).message} (first settled: ${firstSettled})`),
      )
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
      assert.equal(calls, 2, failure)
      assert.equal(outcome, undefined, `${failure}: appendPlan settled with the first append still being written`)
      release()
      await done
      assert.equal(outcome, 'rejected: disk full (first settled: true)', failure)
    }
  })
})
