/** What a partition task hands back for each input: rows per view, and refused records. */
import type { FeatureRow } from '../../features/types.ts'

/** A subset of ports/ `DeadLetterReason`; the pipeline adds topic/partition/bytes. */
export type TaskDeadLetterReason =
  | 'late'
  | 'future_event_time'
  | 'missing_key'
  | 'invalid_key'
  | 'missing_event_time'
  | 'map_failed'
  | 'schema_mismatch'
  | 'out_of_range'
  | 'oversize'
  | 'unknown_op'
  | 'before_mismatch'
  | 'unknown_retraction'
  | 'unavailable_value'

export interface TaskDeadLetter {
  readonly offset: string
  readonly reason: TaskDeadLetterReason
  /** Name of the view that refused the record; absent when the whole partition did (late, no time). */
  readonly view?: string
  readonly detail: string
}

export interface TaskOutput {
  /** `rows[i]` are the rows of `views[i]`, in emission order. */
  readonly rows: FeatureRow[][]
  readonly deadLetters: TaskDeadLetter[]
}

/**
 * What a filter/map threw, for its `map_failed` detail: the error's name and message, cut to 200
 * characters. Never throws itself (a thrown value may be anything, even a hostile object).
 */
export function thrownText(err: unknown): string {
  let text: string
  try {
    text = err instanceof Error ? `${String(err.name)}: ${String(err.message)}` : `${typeof err} ${String(err)}`
  } catch {
    text = typeof err
  }
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}
