/**
 * The live engine's checkpoint calls (live-engine.ts): timed and size-triggered checkpoints run in
 * the background (their I/O overlaps with the next records, partition-slot.ts) and fail the engine
 * when they fail; revocation and stop checkpoint and wait, and report what failed to their caller
 * (stop-failures.ts) rather than only log it. Both keep the engine's statistics and commit the
 * partition's progress marker after a published checkpoint.
 */
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { StreamPartition } from '../ports/source.ts'
import type { EngineStats } from './engine-stats.ts'
import type { PartitionSlot } from './partition-slot.ts'
import type { StopFailures } from './stop-failures.ts'

export interface EngineCheckpointsOptions {
  readonly slots: Map<string, Promise<PartitionSlot>>
  readonly stats: EngineStats
  readonly clock: Clock
  readonly logger: Logger
  /** Settles once the slot's online rows and dead letters so far are delivered (slot-delivery.ts). */
  readonly landed: (slot: PartitionSlot) => Promise<unknown> | undefined
  /** The reader's progress commit (undefined before the reader exists). */
  readonly commit: (at: StreamPartition, position: string) => Promise<void> | undefined
  readonly fail: (err: Error) => void
}

export interface EngineCheckpoints {
  /**
   * Slots a checkpoint found fenced and dropped, by `topic/partition`, until their partition is
   * restored again or revoked: the records they processed past the winner's position are in no
   * table yet, and a stop must not forget them (stop-fence.ts).
   */
  readonly dropped: Map<string, PartitionSlot>
  /**
   * Checkpoints the slot and waits; rejects when the checkpoint failed. False: fenced — the slot is
   * dropped, and its caller decides whether another owner goes on from the winner's record
   * (a rebalance) or nobody will until the next start (the stop: stop-fence.ts).
   */
  now(slot: PartitionSlot): Promise<boolean>
  /** Starts a checkpoint of the slot; a failure fails the engine. */
  inBackground(slot: PartitionSlot): Promise<void>
  /**
   * Checkpoints every restored slot, in turn; each failure goes to `failures`, and the others still
   * run. Returns the slots whose checkpoint was fenced: their tail is published by nobody yet.
   */
  all(failures: StopFailures): Promise<PartitionSlot[]>
}

export function createEngineCheckpoints(options: EngineCheckpointsOptions): EngineCheckpoints {
  const { slots, stats, clock, logger, landed, fail } = options
  const dropped = new Map<string, PartitionSlot>()

  function record(slot: PartitionSlot, durationMs: number, ok: boolean): void {
    const key = `${slot.topic}/${slot.partition}`
    if (!ok) {
      stats.fenced++
      // Dropped only if the map still holds this slot (not revoked, not restored again since): the
      // next batch — or the tick, for a partition that gets none — restores from the winner's record.
      const pending = slots.get(key)
      void pending?.then(
        (current) => {
          if (current !== slot || slots.get(key) !== pending) return
          slots.delete(key)
          dropped.set(key, slot)
        },
        () => undefined,
      )
      return
    }
    stats.checkpoints++
    stats.lastCheckpointDurationMs = durationMs
    stats.timings.checkpoint(durationMs)
    stats.lastCheckpointAtMs = clock.nowMs()
    // A progress marker only (ports/source.ts): the checkpoint is the record of progress, and a
    // stopping Kafka consumer does not commit at all; the next run's first checkpoint commits again.
    void options
      .commit({ stream: slot.topic, partition: slot.partition }, slot.nextOffsetAtLastCheckpoint)
      ?.catch((err: unknown) => {
        logger.warn({ err }, 'progress commit failed (recovery uses checkpoints, so this is harmless)')
      })
  }

  async function now(slot: PartitionSlot): Promise<boolean> {
    const started = clock.nowMs()
    const ok = await slot.checkpoint(landed(slot))
    record(slot, clock.nowMs() - started, ok)
    return ok
  }

  return {
    dropped,
    now,
    async inBackground(slot) {
      await slot.checkpointInBackground((result) => {
        if ('err' in result) {
          logger.error({ err: result.err, topic: slot.topic, partition: slot.partition }, 'checkpoint failed')
          fail(result.err instanceof Error ? result.err : new Error(String(result.err)))
          return
        }
        record(slot, clock.nowMs() - slot.lastCheckpointAtMs, result.ok)
      }, landed(slot))
    },
    async all(failures) {
      const fenced: PartitionSlot[] = []
      for (const pending of [...slots.values()]) {
        const slot = await pending.catch(() => undefined)
        if (!slot) continue
        const ok = await slot
          .run(() => now(slot))
          .catch((err: unknown) => {
            logger.error({ err, topic: slot.topic, partition: slot.partition }, 'checkpoint failed')
            failures.checkpoint(slot.topic, slot.partition, err)
            return true
          })
        if (!ok) fenced.push(slot)
      }
      return fenced
    },
  }
}
