/**
 * Re-drive: publish a copy of each chosen dead letter's source record back to its topic, exactly
 * once per record however often it runs and wherever it crashes.
 *
 * How: every batch is one transaction of the event log that holds the copies AND one marker per
 * record in the marker topic `<dead-letter topic>.redriven` (key `topic/partition/offset` of the
 * source record). Both become visible together at commit, or neither does (a crash, an abort);
 * the engine and this command read read-committed. A run reads the markers first and skips every
 * record they name, so a second run — or the run after a crash — re-drives only what no committed
 * batch holds. Several letters of one record (two views refused it; the at-least-once dead-letter
 * output wrote it twice) re-drive it once.
 *
 * Concurrent runs: a session first opens (and aborts) a transaction with the one transactional id
 * `<marker topic>`, which fences any earlier session still running — its next commit fails — and
 * waits for its open transaction to end; only then are the markers read. So no two sessions can
 * re-drive the same record. (The embedded log is single-process: there is no second session.)
 *
 * The copy carries the key and value of the record as the refusing views read it, goes to the
 * partition they read it from (./redrive-plan.ts decides which topic, and which records may go
 * back at all), and has headers `kfs-redriven-from` (the record copied) and `kfs-redriven-letter`
 * (the letter); its timestamp is the time of the re-drive.
 */
import type { Clock } from '../../core/clock.ts'
import { FeatureStoreError } from '../../core/errors.ts'
import { chunksOf } from '../../engine/dead-letter-topic.ts'
import type { EventLog, LogRecord, ProduceRecord } from '../../ports/event-log.ts'
import { isTransactional, type TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import { parseDeadLetter, positionId, type DeadLetterEntry } from './dead-letter-entry.ts'
import type { RedriveTarget } from './redrive-plan.ts'
import { readToEnd } from './read-to-end.ts'

export const REDRIVE_HEADERS = {
  from: 'kfs-redriven-from',
  letter: 'kfs-redriven-letter',
} as const

/** Records re-driven per transaction, by default. */
const BATCH = 500

export function markerTopicOf(deadLetterTopic: string): string {
  return `${deadLetterTopic}.redriven`
}

export interface RedriveMarker {
  /** `topic/partition/offset` of the source record. */
  readonly target: string
  /** `topic/partition/offset` of the letter it was re-driven from. */
  readonly letter: string
  readonly reason: string
  readonly redrivenAtMs: number
}

/** The dead-letter topic and its markers as of one moment. */
export interface DeadLetterSnapshot {
  readonly entries: readonly DeadLetterEntry[]
  /** Re-driven records by target id. */
  readonly redriven: ReadonlyMap<string, RedriveMarker>
  /** Records of the dead-letter topic without kfs's headers (not letters): counted, never acted on. */
  readonly foreign: number
}

export async function readDeadLetters(log: EventLog, deadLetterTopic: string): Promise<DeadLetterSnapshot> {
  const markerTopic = markerTopicOf(deadLetterTopic)
  const read = await readToEnd(log, [deadLetterTopic, markerTopic], { groupPrefix: 'kfs-dead-letters-read' })
  const entries: DeadLetterEntry[] = []
  let foreign = 0
  for (const record of read.get(deadLetterTopic)!) {
    const entry = parseDeadLetter(record)
    if (entry === undefined) foreign++
    else entries.push(entry)
  }
  const redriven = new Map<string, RedriveMarker>()
  for (const record of read.get(markerTopic)!) {
    const marker = parseMarker(record)
    if (marker !== undefined && !redriven.has(marker.target)) redriven.set(marker.target, marker)
  }
  return { entries, redriven, foreign }
}

/** The marker a record of the marker topic holds; undefined for one kfs did not write. */
export function parseMarker(record: LogRecord): RedriveMarker | undefined {
  if (record.value === null) return undefined
  try {
    const m = JSON.parse(Buffer.from(record.value).toString('utf8')) as Partial<RedriveMarker>
    if (typeof m.target !== 'string' || typeof m.letter !== 'string') return undefined
    return { target: m.target, letter: m.letter, reason: String(m.reason ?? ''), redrivenAtMs: Number(m.redrivenAtMs ?? record.timestampMs) }
  } catch {
    return undefined // not written by kfs: ignored rather than fatal, it names no record
  }
}

export interface RedriveSession {
  /** Read after the fence: what the session may act on. */
  readonly snapshot: DeadLetterSnapshot
  /**
   * Re-drives each target once (one the snapshot's markers name is skipped, and so is a second
   * target of the same record). Resolves with the targets re-driven. A failure leaves every
   * committed batch re-driven and nothing of the failed one: run again to finish.
   */
  redrive(targets: readonly RedriveTarget[], onProgress?: (done: number, total: number) => void): Promise<RedriveTarget[]>
}

export async function openRedriveSession(log: EventLog, deadLetterTopic: string, clock: Clock, options: { batchSize?: number } = {}): Promise<RedriveSession> {
  const batchSize = options.batchSize ?? BATCH
  if (!isTransactional(log)) throw new FeatureStoreError('BAD_REQUEST', 'this event log has no transactions: re-drive needs them to be exactly once')
  const markerTopic = markerTopicOf(deadLetterTopic)
  const transactionalId = markerTopic
  // Fence an earlier session and let its open transaction end before the markers are read.
  await (await log.transaction(transactionalId)).abort()
  await log.createTopic(markerTopic, 1)
  const snapshot = await readDeadLetters(log, deadLetterTopic)
  const done = new Set(snapshot.redriven.keys())
  return {
    snapshot,
    async redrive(targets, onProgress) {
      const todo: RedriveTarget[] = []
      for (const target of targets) {
        if (done.has(target.id)) continue
        done.add(target.id)
        todo.push(target)
      }
      const redriven: RedriveTarget[] = []
      for (let i = 0; i < todo.length; i += batchSize) {
        const batch = todo.slice(i, i + batchSize)
        await commitBatch(log, transactionalId, markerTopic, batch, clock.nowMs())
        redriven.push(...batch)
        onProgress?.(redriven.length, todo.length)
      }
      return redriven
    },
  }
}

async function commitBatch(log: TransactionalEventLog, transactionalId: string, markerTopic: string, batch: readonly RedriveTarget[], nowMs: number): Promise<void> {
  const byTopic = new Map<string, ProduceRecord[]>()
  const markers: ProduceRecord[] = []
  for (const { id, letter, to } of batch) {
    const copy: ProduceRecord = {
      key: letter.key,
      value: letter.value,
      partition: to.partition,
      headers: { [REDRIVE_HEADERS.from]: positionId(to), [REDRIVE_HEADERS.letter]: positionId(letter.at) },
    }
    byTopic.set(to.topic, [...(byTopic.get(to.topic) ?? []), copy])
    const marker: RedriveMarker = { target: id, letter: positionId(letter.at), reason: letter.reason, redrivenAtMs: nowMs }
    markers.push({ key: id, value: Buffer.from(JSON.stringify(marker)), partition: 0 })
  }
  const txn = await log.transaction(transactionalId)
  try {
    for (const [topic, records] of byTopic) for (const chunk of chunksOf(records)) await txn.produce(topic, chunk)
    for (const chunk of chunksOf(markers)) await txn.produce(markerTopic, chunk)
    await txn.commit()
  } catch (err: unknown) {
    await txn.abort().catch(() => {}) // the failure that matters is err; a fenced session cannot abort
    if (err instanceof FeatureStoreError && err.code === 'COMMIT_CONFLICT') {
      throw new FeatureStoreError('COMMIT_CONFLICT', 'another re-drive took over (it fenced this one); nothing of this batch was published', { cause: err })
    }
    throw err
  }
}
