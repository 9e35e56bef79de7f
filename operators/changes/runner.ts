/**
 * What the partition task (operators/task/partition-task.ts) asks of each of its views: the event
 * views' ViewRunner and the change views' runners (docs/design.md §11) behind one interface, so
 * the task's per-record steps (§2) are written once.
 */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import type { EventRecord, FeatureRow } from '../../features/types.ts'
import type { TaskDeadLetter } from '../task/output.ts'
import type { ChangeTracking } from '../task/state-delta.ts'

/** Which part of a re-keyed change a copy carries (operators/task/partition-task.ts, TaskEvent.role). */
export type ChangeRole = 'retract' | 'add'

export interface TaskViewRunner {
  /**
   * Step 2 of docs/design.md §2 for one record the task accepted (time judged, not late). `role`
   * and `heldGroup`: which part of a re-keyed change the record carries (TaskEvent).
   */
  processEvent(offset: string, eventTimeMs: number, event: EventRecord, rows: FeatureRow[], dead: TaskDeadLetter[], role?: ChangeRole, heldGroup?: string): void
  /** Step 4: whatever the watermark makes due (rows, or dropping state nothing can change any more). */
  fire(watermarkMs: number, rows: FeatureRow[]): void
  /** Number of keys holding state (metrics, tests). */
  readonly keyCount: number
  /** The view's state in deterministic bytes: equal state → equal bytes (keys in key-byte order). */
  encodeState(w: ByteWriter): void
  /** Restores `encodeState`'s bytes into this (fresh) runner; throws CheckpointError when they do not fit. */
  decodeState(r: ByteReader): void
  /** What changed since the last checkpoint, for incremental checkpoints (operators/task/state-delta.ts). */
  readonly changes: ChangeTracking
  /**
   * Optional: writes the snapshot entries of up to `maxKeys` keys, in no particular order (not a
   * snapshot: bytes to throw away), and returns how many; the state is left alone. For warming
   * the snapshot encoder up (PartitionTask.warmUpSnapshot).
   */
  encodeSample?(w: ByteWriter, maxKeys: number): number
}
