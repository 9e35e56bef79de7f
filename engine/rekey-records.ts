/**
 * What the re-key stage does with one source record (pure): forward it to the internal topic keyed
 * by the entity, or refuse it as a dead letter — and the event time the stage's merge orders it by.
 *
 * Forwarded: the ORIGINAL bytes (views decode them exactly as from the source, the internal topic's
 * archive replays them), the original headers plus the record's origin, keyed by the canonical
 * entity key (core/entity-key.ts), stamped anew by the log (rekey docs, docs/semantics.md §16). Refused: undecodable records, raw events without a valid join key, and
 * events dated beyond `maxFutureSkewMs` after their own timestamp (operators/task/event-time-rule.ts)
 * — the views would refuse those too, and in the merge one such record would hold its partition
 * back until its (far future) time came. The stage applies no view's filter or map.
 */
import { entityKeyOf, eventTimeOf } from '../operators/task/event-fields.ts'
import { isBeyondFutureSkew } from '../operators/task/event-time-rule.ts'
import { invalidUtf8JoinKey, type DecodeResult } from '../schemas/decoder.ts'
import type { DeadLetter } from '../ports/dead-letters.ts'
import type { LogRecord, ProduceRecord } from '../ports/event-log.ts'
import type { RekeyPlan } from './plan-sources.ts'

/** Headers every internal-topic record carries: where it came from. */
export const REKEY_HEADERS = {
  topic: 'kfs-source-topic',
  partition: 'kfs-source-partition',
  offset: 'kfs-source-offset',
  /**
   * On a change source re-keyed for a current-state view: which part of the change this copy
   * carries to its group, `retract` or `add` (operators/task/partition-task.ts ChangeRole); absent
   * when one copy carries both (docs/design.md §11).
   */
  role: 'kfs-change-role',
} as const

export type RekeyOutcome =
  | { readonly forward: ProduceRecord; readonly deadLetter?: undefined; readonly timeMs: number | undefined }
  | { readonly forward?: undefined; readonly deadLetter: DeadLetter; readonly timeMs: undefined }

export function rekeyRecord(plan: RekeyPlan, record: LogRecord, decoded: DecodeResult): RekeyOutcome {
  const maxFutureSkewMs = plan.source.maxFutureSkewMs
  const letter = (reason: DeadLetter['reason'], detail: string): RekeyOutcome => ({
    deadLetter: {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      value: record.value,
      reason,
      detail: `re-key by ${plan.entity.name}: ${detail}`,
      ...(plan.views.length === 1 ? { view: plan.views[0]!.name } : {}),
    },
    timeMs: undefined,
  })
  if (!decoded.ok) {
    const badKey = invalidUtf8JoinKey(decoded, plan.entity.joinKeys)
    return badKey === undefined ? letter(decoded.reason, decoded.detail) : letter('invalid_key', `join key ${badKey} is not valid UTF-8`)
  }
  const key = entityKeyOf(plan.entity, decoded.event)
  if (!key.ok) return letter(key.reason, key.detail)
  const timeMs = eventTimeOf(decoded.event[plan.source.eventTimeField])
  if (timeMs !== undefined && isBeyondFutureSkew(timeMs, record.timestampMs, maxFutureSkewMs)) {
    return letter(
      'future_event_time',
      `event time ${new Date(timeMs).toISOString()} is more than ${maxFutureSkewMs} ms after the record's timestamp ${record.timestampMs}`,
    )
  }
  // The internal record gets its own (current) timestamp, not the source record's: a backlog of
  // records stamped long ago would otherwise fall to the internal topic's time retention before
  // the views read it. Views judge the future rule against that later time, so a record the stage
  // let through is never refused there; replay reads the same archived timestamp.
  return {
    forward: {
      key: key.key,
      value: record.value,
      headers: {
        ...record.headers,
        [REKEY_HEADERS.topic]: record.topic,
        [REKEY_HEADERS.partition]: String(record.partition),
        [REKEY_HEADERS.offset]: record.offset,
      },
    },
    timeMs,
  }
}

export interface RekeyedBatch {
  /** For the internal topic, in source offset order. */
  readonly records: ProduceRecord[]
  readonly deadLetters: DeadLetter[]
}

/** `rekeyRecord` over a batch and its decode results. */
export function rekeyRecords(plan: RekeyPlan, records: readonly LogRecord[], decoded: readonly DecodeResult[]): RekeyedBatch {
  const out: RekeyedBatch = { records: [], deadLetters: [] }
  records.forEach((record, i) => {
    const outcome = rekeyRecord(plan, record, decoded[i] as DecodeResult)
    if (outcome.forward) out.records.push(outcome.forward)
    else out.deadLetters.push(outcome.deadLetter)
  })
  return out
}
