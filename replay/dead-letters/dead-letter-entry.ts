/**
 * A record of the dead-letter topic read back (format: engine/dead-letter-topic.ts): where it sits
 * in the dead-letter topic, when it was written, why, and which source record it stands for.
 *
 * The *target* of a letter is the source record it stands for: the record's origin when it was
 * refused on a re-key stage's internal topic and the letter names it (`kfs-origin-*`), otherwise
 * the record itself. Dead letters are an at-least-once side output (a crash can write one twice)
 * and one record can be refused by several views, so several letters can share a target; re-drive
 * works per target.
 */
import { DEAD_LETTER_HEADERS } from '../../engine/dead-letter-topic.ts'
import type { DeadLetterReason } from '../../ports/dead-letters.ts'
import type { LogRecord } from '../../ports/event-log.ts'

export interface RecordPosition {
  readonly topic: string
  readonly partition: number
  readonly offset: string
}

export interface DeadLetterEntry {
  /** Where the letter itself sits in the dead-letter topic. */
  readonly at: RecordPosition
  /** When it was written (the dead-letter record's timestamp). */
  readonly timeMs: number
  readonly reason: DeadLetterReason
  readonly detail: string
  /** The view that refused the record, when only one did. */
  readonly view: string | undefined
  /** The version of `view` that refused it; undefined on letters written before kfs named it. */
  readonly viewVersion: number | undefined
  /** Where the refused record was read (for a re-keyed view: its internal topic). */
  readonly read: RecordPosition
  /** The source record a re-keyed record was forwarded from. */
  readonly origin: RecordPosition | undefined
  /** The source record the letter stands for: `origin`, or `read` (./redrive-plan.ts decides where a copy goes). */
  readonly target: RecordPosition
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
}

/** Every reason of ports/dead-letters.ts (a Record over the union: adding a reason there fails to compile here). */
const REASONS: Record<DeadLetterReason, true> = {
  undecodable: true,
  unknown_schema: true,
  schema_mismatch: true,
  missing_event_time: true,
  missing_key: true,
  invalid_key: true,
  oversize: true,
  late: true,
  future_event_time: true,
  map_failed: true,
  out_of_range: true,
  invalid_event_time: true,
  invalid_utf8: true,
  unknown_op: true,
  before_mismatch: true,
  unknown_retraction: true,
  unavailable_value: true,
}
export const DEAD_LETTER_REASONS = Object.keys(REASONS) as DeadLetterReason[]

/** `topic/partition/offset`: the identity of a record, and of a re-drive target. */
export function positionId(p: RecordPosition): string {
  return `${p.topic}/${p.partition}/${p.offset}`
}

/** `topic/partition/offset` back to a position; undefined when it is not one. */
export function parsePositionId(id: string): RecordPosition | undefined {
  const match = /^(.+)\/(\d+)\/(\d+)$/.exec(id)
  return match ? { topic: match[1]!, partition: Number(match[2]), offset: match[3]! } : undefined
}

function position(topic: string | undefined, partition: string | undefined, offset: string | undefined): RecordPosition | undefined {
  if (topic === undefined || partition === undefined || offset === undefined) return undefined
  if (!/^\d+$/.test(partition) || !/^\d+$/.test(offset)) return undefined
  return { topic, partition: Number(partition), offset }
}

/** A positive integer version, only beside a view; anything else names no version (never a guess). */
function versionOf(view: string | undefined, version: string | undefined): number | undefined {
  if (view === undefined || version === undefined || !/^[1-9]\d*$/.test(version)) return undefined
  return Number.isSafeInteger(Number(version)) ? Number(version) : undefined
}

/** The letter a dead-letter record holds; undefined for a record without kfs's headers (not a letter). */
export function parseDeadLetter(record: LogRecord): DeadLetterEntry | undefined {
  const h = record.headers
  const reason = h[DEAD_LETTER_HEADERS.reason]
  const read = position(h[DEAD_LETTER_HEADERS.topic], h[DEAD_LETTER_HEADERS.partition], h[DEAD_LETTER_HEADERS.offset])
  if (reason === undefined || read === undefined) return undefined
  const origin = position(h[DEAD_LETTER_HEADERS.originTopic], h[DEAD_LETTER_HEADERS.originPartition], h[DEAD_LETTER_HEADERS.originOffset])
  return {
    at: { topic: record.topic, partition: record.partition, offset: record.offset },
    timeMs: record.timestampMs,
    reason: reason as DeadLetterReason,
    detail: h[DEAD_LETTER_HEADERS.detail] ?? '',
    view: h[DEAD_LETTER_HEADERS.view],
    viewVersion: versionOf(h[DEAD_LETTER_HEADERS.view], h[DEAD_LETTER_HEADERS.viewVersion]),
    read,
    origin,
    target: origin ?? read,
    key: record.key,
    value: record.value,
  }
}

/** Which letters a command acts on. Every given criterion must hold; lists match any of their names. */
export interface DeadLetterFilter {
  readonly reasons?: readonly string[]
  /** Views that refused the record (a letter without a view was refused by every view reading its topic). */
  readonly views?: readonly string[]
  /** The source topic (the target's topic, or the topic it was read from). */
  readonly topics?: readonly string[]
  /** Written at or after this time. */
  readonly fromMs?: number
  /** Written before this time. */
  readonly untilMs?: number
}

/** `refusers`: the views that refused the letter's record (./redrive-plan.ts `refusersOf`). */
export function matchesFilter(entry: DeadLetterEntry, refusers: readonly string[], filter: DeadLetterFilter): boolean {
  if (filter.reasons && !filter.reasons.includes(entry.reason)) return false
  if (filter.views && !refusers.some((v) => filter.views!.includes(v))) return false
  if (filter.topics && !filter.topics.includes(entry.target.topic) && !filter.topics.includes(entry.read.topic)) return false
  if (filter.fromMs !== undefined && entry.timeMs < filter.fromMs) return false
  if (filter.untilMs !== undefined && entry.timeMs >= filter.untilMs) return false
  return true
}
