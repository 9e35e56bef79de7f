/**
 * The journal of an embedded transaction's commit (`txn/<transactionalId>.json`, see
 * ./embedded-transaction.ts): every partition's base offset and records, and the group offsets,
 * written and fsynced before any of them is applied, so a reopen after a crash finishes the commit.
 *
 * A journal is read back only after a crash, by a reopen that must finish it before anything else:
 * one that is not of its shape, or names a topic, partition or offset the log cannot hold, is
 * damage (DATA_CORRUPT naming the file), found before any of it is applied — never a TypeError
 * from the middle of recovery, never half a commit applied and then refused.
 */
import { SourceError } from '../../../core/errors.ts'
import { isJsonObject } from '../../../core/json-object.ts'
import type { TopicPartitionOffset } from '../../../ports/event-log.ts'
import { readJson } from './durable-file.ts'
import { isCommittableOffset } from './group-coordinator.ts'
import type { StoredRecord } from './record-format.ts'

export interface JournalRecord {
  readonly k: string | null
  readonly v: string | null
  readonly h: Record<string, string>
  readonly t?: number
}

export interface JournalEntry {
  readonly partitions: readonly {
    readonly topic: string
    readonly partition: number
    readonly baseOffset: number
    readonly records: readonly JournalRecord[]
  }[]
  readonly offsets: readonly { readonly groupId: string; readonly offsets: readonly TopicPartitionOffset[] }[]
}

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0
const isBase64OrNull = (v: unknown): boolean => v === null || (typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v))
const arrayOf = (v: unknown, each: (item: Record<string, unknown>) => boolean): boolean =>
  Array.isArray(v) && v.every((item) => isJsonObject(item) && each(item))

const isRecord = (r: Record<string, unknown>): boolean =>
  isBase64OrNull(r.k) &&
  isBase64OrNull(r.v) &&
  isJsonObject(r.h) &&
  Object.values(r.h).every((h) => typeof h === 'string') &&
  (r.t === undefined || isCount(r.t))

const isJournal = (v: unknown): boolean =>
  isJsonObject(v) &&
  arrayOf(
    v.partitions,
    (p) => typeof p.topic === 'string' && isCount(p.partition) && isCount(p.baseOffset) && arrayOf(p.records, isRecord),
  ) &&
  arrayOf(
    v.offsets,
    (g) =>
      typeof g.groupId === 'string' &&
      arrayOf(g.offsets, (o) => typeof o.topic === 'string' && isCount(o.partition) && isCommittableOffset(o.offset)),
  )

/**
 * The journal at `path` (undefined when there is none), checked against the log: `partitionCount`
 * answers 0 for a topic that does not exist.
 */
export function readJournal(path: string, partitionCount: (topic: string) => number): JournalEntry | undefined {
  const journal = readJson<JournalEntry>(path, isJournal)
  if (journal === undefined) return undefined
  const named = [...journal.partitions, ...journal.offsets.flatMap((g) => g.offsets)]
  const missing = named.find((tp) => tp.partition >= partitionCount(tp.topic))
  if (missing !== undefined) {
    throw new SourceError(
      'DATA_CORRUPT',
      `embedded log transaction journal ${path} names partition ${missing.partition} of topic '${missing.topic}', which the log does not have: restore the log from a copy`,
      {
        context: { path, topic: missing.topic, partition: missing.partition },
      },
    )
  }
  return journal
}

export function journalRecord(
  r: Omit<StoredRecord, 'offset' | 'timestampMs'> & { readonly timestampMs?: number },
): JournalRecord {
  return {
    k: r.key && Buffer.from(r.key).toString('base64'),
    v: r.value && Buffer.from(r.value).toString('base64'),
    h: { ...r.headers },
    ...(r.timestampMs === undefined ? {} : { t: r.timestampMs }),
  }
}

export function storedRecord(r: JournalRecord, nowMs: number): Omit<StoredRecord, 'offset'> {
  return {
    timestampMs: r.t ?? nowMs,
    key: r.k === null ? null : Buffer.from(r.k, 'base64'),
    value: r.v === null ? null : Buffer.from(r.v, 'base64'),
    headers: r.h,
  }
}

/** A journal whose partition already moved past its base offset other than by the journal's own records. */
export function journalMismatch(
  path: string,
  topic: string,
  partition: number,
  baseOffset: number,
  endOffset: number,
  records: number,
): SourceError {
  return new SourceError(
    'DATA_CORRUPT',
    `embedded log transaction journal ${path} was written for partition ${partition} of topic '${topic}' ending at offset ${baseOffset} (its ${records} records to follow), but the partition ends at offset ${endOffset}: restore the log from a copy`,
    { context: { path, topic, partition, baseOffset, endOffset } },
  )
}

/** A commit whose journal was written but whose applying failed (a disk error): in doubt until a reopen finishes it. */
export function commitInDoubt(path: string, transactionalId: string, cause: unknown): SourceError {
  return new SourceError(
    'SOURCE_UNAVAILABLE',
    `embedded log: the commit of transaction '${transactionalId}' failed part-applied (${cause instanceof Error ? cause.message : String(cause)}); its journal ${path} finishes it when the log is reopened, and the log takes no more writes until then: close and reopen it`,
    { cause, context: { path, transactionalId } },
  )
}
