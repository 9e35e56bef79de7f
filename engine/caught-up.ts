/**
 * Whether the engine has read everything written so far (`kfs run --until-caught-up`, tests):
 * every re-key stage has re-keyed its sources up to their end offsets, and every view's slot has
 * read its topic up to the end — every record processed, and entries the log never delivers (a
 * Kafka transaction's commit marker) read past, as the consumer reports (`readToOf`). Internal
 * (re-keyed) topics get no allowance for a trailing marker: the embedded log's commits leave none,
 * so "one short" there was the stage's last committed record, not yet delivered to the view (a
 * whole internal partition when one transaction forwarded it all) — and even on Kafka the marker
 * lands just after commit() returns, so the end can briefly be the last record's. How long the
 * slot had been quiet said nothing about either.
 */
import type { EventLog } from '../ports/event-log.ts'
import type { UnboundedSource } from '../ports/source.ts'
import type { SourcePlan } from './plan-sources.ts'
import type { PartitionSlot } from './partition-slot.ts'
import type { RekeyStage } from './rekey-stage.ts'

export interface CaughtUpInputs {
  /** Where the re-key stages' source topics end. */
  readonly log: Pick<EventLog, 'endOffsets'>
  /** Where the views' streams end. */
  readonly source: Pick<UnboundedSource, 'ends'>
  readonly rekeyStages: readonly RekeyStage[]
  readonly plans: readonly SourcePlan[]
  /** The slot of a partition this process owns (undefined: not owned, or still restoring). */
  readonly slotAt: (topic: string, partition: number) => Promise<PartitionSlot | undefined>
  /** How far the consumer has read a partition, entries it never delivers (transaction markers) included. */
  readonly readToOf?: (topic: string, partition: number) => bigint | undefined
  readonly nowMs: number
  readonly quietMs: number
  /**
   * A partition short of its end with no record for quietMs: whether retention deleted what was
   * left unread (batch-gap.ts idleGapHandler); resolves where it reads now.
   */
  readonly passDeleted?: (
    slot: PartitionSlot,
    at: { position: bigint; end: bigint; nowMs: number; quietMs: number },
  ) => Promise<bigint>
  /**
   * Whether a restored slot's check of its checkpoint's last record is still to be settled
   * (resume-check.ts): its partition is not caught up until it is, whatever its position says.
   */
  readonly checkPending?: (slot: PartitionSlot, nowMs: number) => Promise<boolean>
}

export async function isCaughtUp(inputs: CaughtUpInputs): Promise<boolean> {
  const { log, source, rekeyStages, plans, slotAt, readToOf, nowMs, quietMs, passDeleted, checkPending } = inputs
  for (const stage of rekeyStages) {
    const ends = await log.endOffsets(stage.plan.source.topic)
    if (stage.busy) return false
    // A source partition whose unread records retention deleted shows no batch: the stage reads the
    // log's start (at most once per quietMs) and moves past them; its commit is then under way.
    if (await stage.passDeleted(nowMs, quietMs, ends)) return false
    const owned = stage.progress()
    for (let p = 0; p < ends.length; p++) {
      const end = BigInt(ends[p] ?? '0')
      if (end === 0n) continue
      // A source partition this process does not own (yet: after a crash the group waits out
      // the dead member's session) may still hold records to re-key.
      const progress = owned.get(p)
      if (progress === undefined) return false
      // The committed position of a partition this process has not re-keyed a batch of is not
      // known here; it is taken as read once it has been owned, and the whole stage idle, for
      // quietMs (a partition with pending records is fetched, hence keeps the stage busy, well before).
      if (progress.position === undefined) {
        if (nowMs - stage.lastActivityAtMs < quietMs || nowMs - progress.assignedAtMs < quietMs) return false
      } else if (BigInt(progress.position) < end) return false
    }
  }
  for (const plan of plans) {
    const ends = await source.ends(plan.topic)
    for (let p = 0; p < ends.length; p++) {
      const end = BigInt(ends[p]!)
      if (end === 0n) continue
      const slot = await slotAt(plan.topic, p)
      if (slot === undefined || (await checkPending?.(slot, nowMs))) return false
      const processed = BigInt(slot.nextOffset)
      const read = readToOf?.(plan.topic, p) ?? processed
      // Read past the last record only by entries the log never delivers: nothing left to process.
      let position = read > processed ? read : processed
      // No batch shows a gap when retention deleted every record left and nothing new arrives.
      if (position < end && passDeleted !== undefined && nowMs - slot.lastRecordAtMs >= quietMs)
        position = await passDeleted(slot, { position, end, nowMs, quietMs })
      if (position < end) return false
    }
  }
  return true
}
