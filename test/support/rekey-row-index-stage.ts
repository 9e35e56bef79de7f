/**
 * The re-key stage of the fault workload's re-keyed current-state view (change-faults.ts: open
 * orders per user) on the embedded log, alone, and what it leaves: the internal topic's copies and
 * the row index its state topic holds (engine/rekey-row-index.ts) — and the index that state topic
 * must hold for the offsets the stage committed, computed from the source records before them.
 * For test/unit/engine/rekey-row-index.test.ts and rekey-row-index-faults.test.ts.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { systemClock } from '../../core/clock.ts'
import { silentLogger } from '../../core/logger.ts'
import { createEngineStats } from '../../engine/engine-stats.ts'
import { planRekeys } from '../../engine/plan-sources.ts'
import { unbundle } from '../../engine/rekey-bundle.ts'
import { RowGroupIndex, restoreRowIndex, rowGroupsTopic } from '../../engine/rekey-row-index.ts'
import { createRekeyStage, rekeyGroupId, rekeyRecords, REKEY_HEADERS, type RekeyStage } from '../../engine/rekey-stage.ts'
import { scanTopics } from '../../engine/topic-scan.ts'
import type { EventLog, LogRecord } from '../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import { createChangeJsonDecoder } from '../../schemas/change-json-decoder.ts'
import { orders, userOpen } from '../fixtures/features/change-faults.ts'
import { waitFor } from './scenario.ts'

export const plan = planRekeys([userOpen])[0]!
export const GROUP = 'kfs-engine'
export const STAGE_GROUP = rekeyGroupId(GROUP, plan)
const decoder = () => createChangeJsonDecoder({ rowSchema: orders.changes!.rowSchema })
const UTF8 = new TextDecoder()

/** A stage of the engine group `GROUP` on `log`; its fatal errors go to `failures`. */
export function createStage(log: TransactionalEventLog, failures: Error[]): RekeyStage {
  return createRekeyStage({
    log,
    plan,
    groupId: GROUP,
    decoder: decoder(),
    deadLetters: { write: async () => {}, flush: async () => {} },
    deadLetterTopic: 'kfs.dead-letters',
    stats: createEngineStats(),
    clock: systemClock,
    logger: silentLogger,
    onFatal: (err) => failures.push(err),
  })
}

/** Until `stage` has re-keyed the source to its current end (or failed). */
export async function untilRekeyed(log: EventLog, stage: RekeyStage, failures: readonly Error[]): Promise<void> {
  const ends = await log.endOffsets(orders.topic)
  await waitFor(
    () =>
      failures.length > 0 ||
      ([...stage.progress()].length === ends.length && [...stage.progress()].every(([p, e]) => e.position === ends[p])),
    'the source re-keyed',
  )
}

/** Runs one stage (a new owner) until it has re-keyed the source to its end. */
export async function runStage(log: TransactionalEventLog): Promise<void> {
  const failures: Error[] = []
  const stage = createStage(log, failures)
  await stage.start()
  await untilRekeyed(log, stage, failures)
  await stage.stop()
  assert.deepEqual(failures, [])
}

/** [group, source partition/offset, role] of every event the internal topic holds (committed), in source order. */
export async function internalCopies(log: EventLog): Promise<string[][]> {
  const records: LogRecord[] = []
  await scanTopics(log, [plan.topic], (_t, batch) => void records.push(...batch), { groupPrefix: 'check' })
  return unbundle(records)
    .events.map((e) => [
      UTF8.decode(e.key!),
      `${e.headers[REKEY_HEADERS.partition]}/${e.headers[REKEY_HEADERS.offset]}`,
      e.headers[REKEY_HEADERS.role] ?? '-',
    ])
    .sort((a, b) => a[1]!.localeCompare(b[1]!) || a[2]!.localeCompare(b[2]!))
}

/** Each row the index holds: its group (`-` once deleted) and its version (`@`, `?` when unknown). */
function entriesOf(index: RowGroupIndex, keys: Iterable<string>): Record<string, string> {
  return Object.fromEntries(
    [...new Set(keys)].sort().flatMap((k) => {
      const version = index.versionOf(k)
      if (index.groupOf(k) === undefined && version === undefined) return []
      return [[k, `${index.groupOf(k) ?? '-'}@${version ?? '?'}`]]
    }),
  )
}

/** The index a new owner reads back: the state topic's committed records, each key's last. */
export async function indexOf(log: EventLog): Promise<Record<string, string>> {
  const index = new RowGroupIndex()
  const keys: string[] = []
  await scanTopics(log, [rowGroupsTopic(plan.topic)], (_t, rs) => rs.forEach((r) => keys.push(UTF8.decode(r.key!))), {
    groupPrefix: 'keys',
  })
  await restoreRowIndex(log, rowGroupsTopic(plan.topic), 'check', index, silentLogger)
  return entriesOf(index, keys)
}

/**
 * The index of the stage's committed offsets, computed afresh: the source records before them
 * re-keyed in order, partition by partition (a row's changes are all in its key's partition, so
 * the merge's interleaving of partitions moves no entry).
 */
export async function committedIndex(log: EventLog): Promise<Record<string, string>> {
  const committed = await log.committedOffsets(STAGE_GROUP, orders.topic)
  const byPartition = new Map<number, LogRecord[]>()
  await scanTopics(
    log,
    [orders.topic],
    (_t, rs) => {
      for (const r of rs) {
        if (BigInt(r.offset) >= BigInt(committed[r.partition] ?? '0')) continue
        byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r])
      }
    },
    { groupPrefix: 'committed-index' },
  )
  const index = new RowGroupIndex()
  const keys: string[] = []
  for (const records of byPartition.values()) {
    rekeyRecords(plan, records, await decoder().decodeBatch(records.map((r) => r.value)), index)
    for (const r of records) if (r.key !== null) keys.push(UTF8.decode(r.key))
  }
  return entriesOf(index, keys)
}

/**
 * `run` over a fresh embedded log holding the orders topic, closed and removed after;
 * `maxBatchRecords` small makes the stage forward a backlog in many transactions.
 */
export async function withOrdersLog(run: (log: EmbeddedEventLog) => Promise<void>, maxBatchRecords?: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-row-index-'))
  const log = new EmbeddedEventLog({
    dir: join(dir, 'log'),
    fsync: 'never',
    ...(maxBatchRecords === undefined ? {} : { maxBatchRecords }),
  })
  try {
    await log.createTopic(orders.topic, orders.partitions)
    await run(log)
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}
