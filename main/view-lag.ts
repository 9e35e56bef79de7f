/**
 * How far the default group's checkpoints on a view's topic are behind the log (`kfs serve`'s
 * status page). Records retention deleted can never be read (docs/semantics.md §17): a partition is
 * behind by what the log still holds past its checkpoint — from the log's start when the checkpoint
 * (or, with none, offset 0) lies before it — never by records that no longer exist.
 */
import type { EventLog } from '../ports/event-log.ts'
import type { CheckpointStore } from '../engine/checkpoint-store.ts'

export interface ViewLag {
  /** The oldest checkpoint's time; undefined while a partition has none. */
  readonly lastCheckpointMs: number | undefined
  readonly lagRecords: number
}

export async function viewLag(
  log: Pick<EventLog, 'startOffsets' | 'endOffsets'>,
  checkpoints: Pick<CheckpointStore, 'latest'>,
  topic: string,
): Promise<ViewLag> {
  const [starts, ends] = await Promise.all([log.startOffsets(topic), log.endOffsets(topic)])
  let lagRecords = 0n
  let oldest: number | undefined
  let missing = false
  for (const [partition, end] of ends.entries()) {
    const latest = await checkpoints.latest(topic, partition)
    const start = BigInt(starts[partition] ?? '0')
    const at = BigInt(latest?.nextOffset ?? '0')
    const behind = BigInt(end) - (at > start ? at : start)
    if (behind > 0n) lagRecords += behind
    if (latest === undefined) missing = true
    else if (oldest === undefined || latest.createdAtMs < oldest) oldest = latest.createdAtMs
  }
  return { lastCheckpointMs: missing ? undefined : oldest, lagRecords: Number(lagRecords) }
}
