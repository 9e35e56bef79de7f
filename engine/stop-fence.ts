/**
 * A partition's final checkpoint at the stop, fenced: another owner published that seq first (a
 * dead process's publish landing late, docs/semantics.md "Checkpoint fenced at the stop"). While
 * the engine runs, a fenced slot is dropped and the next batch restores it from the winner's
 * record; at the stop no batch comes, so the records after the winner's position that this engine
 * had processed would be in no table until the next start — and `kfs run --until-caught-up`
 * exiting 0 over them tells an audit reading the tables that they were lost.
 *
 * So the stop does what the next batch would have: restores the partition from the winner's
 * record (which rolls the tables forward to it), reads the records from its position up to where
 * the engine had got — they are still in the log — processes and delivers them, and checkpoints.
 * A fence can repeat (the other owner may still be publishing): a bounded number of attempts,
 * then a stop failure naming the partition and where the next start resumes (stop-failures.ts).
 */
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { EventLog } from '../ports/event-log.ts'
import type { SourceRecord } from '../ports/source.ts'
import { scanTopics } from './topic-scan.ts'
import type { PartitionSlot, SlotOutput } from './partition-slot.ts'
import type { StopFailures } from './stop-failures.ts'

/** Attempts in all, the fenced final checkpoint the engine took counting as the first. */
export const FENCED_AT_STOP_ATTEMPTS = 3

export interface StopFenceDeps {
  /** A new slot of the partition, restored from its latest record (not the engine's slot map's). */
  readonly restore: (topic: string, partition: number) => Promise<PartitionSlot>
  /** Hands the partition's committed records from `from` (inclusive) to `to` (exclusive) over, in order. */
  readonly read: (
    topic: string,
    partition: number,
    from: string,
    to: string,
    onRecords: (records: readonly SourceRecord[]) => Promise<void>,
  ) => Promise<void>
  /** Delivers online rows and dead letters now. */
  readonly deliver: (slot: PartitionSlot, output: SlotOutput) => Promise<void>
  /** Checkpoints the slot and waits; false: fenced. */
  readonly checkpoint: (slot: PartitionSlot) => Promise<boolean>
  /** Where the partition's latest published record resumes (undefined: it has none). */
  readonly publishedPosition: (topic: string, partition: number) => Promise<string | undefined>
  readonly clock: Clock
  readonly logger: Logger
  readonly attempts?: number
}

/** Publishes what `fenced` (a slot whose final checkpoint was fenced) had processed, or reports to `failures` why not. */
export async function finishFencedAtStop(fenced: PartitionSlot, deps: StopFenceDeps, failures: StopFailures): Promise<void> {
  const { topic, partition } = fenced
  const reached = BigInt(fenced.nextOffset)
  const attempts = deps.attempts ?? FENCED_AT_STOP_ATTEMPTS
  let resumesAt: string | undefined
  try {
    for (let attempt = 2; attempt <= attempts; attempt++) {
      const slot = await deps.restore(topic, partition)
      if (BigInt(slot.nextOffset) < reached) {
        await deps.read(topic, partition, slot.nextOffset, reached.toString(), async (records) => {
          const fresh = records.filter((r) => BigInt(r.offset) < reached)
          if (fresh.length > 0) await deps.deliver(slot, await slot.processRecords(fresh, deps.clock.nowMs()))
        })
      }
      // Restored at or past the engine's position, with nothing of its own to add: the tables hold it all.
      if (slot.buffered === 0 && BigInt(slot.nextOffset) >= reached) return
      if (await slot.run(() => deps.checkpoint(slot))) {
        deps.logger.info(
          { topic, partition, attempt, nextOffset: slot.nextOffset },
          'checkpoint fenced at stop: re-processed from the winning checkpoint and published',
        )
        return
      }
    }
    resumesAt = await deps.publishedPosition(topic, partition)
  } catch (err: unknown) {
    deps.logger.error({ err, topic, partition }, 'checkpoint fenced at stop: re-processing from the winning checkpoint failed')
    failures.checkpoint(topic, partition, err)
    return
  }
  deps.logger.error({ topic, partition, attempts, resumesAt }, 'checkpoint fenced at stop, every attempt')
  failures.fenced(topic, partition, attempts, resumesAt ?? '0')
}

/**
 * Reads one partition's committed records in [from, to) through a throw-away group (topic-scan.ts:
 * the reader of the stopping engine is gone, and the port has no random-access read). The other
 * partitions of the topic are scanned from their end, which they have reached already.
 */
export async function readRange(
  log: EventLog,
  range: {
    readonly topic: string
    readonly partition: number
    readonly from: string
    readonly to: string
    readonly group: string
  },
  onRecords: (records: readonly SourceRecord[]) => Promise<void>,
): Promise<void> {
  const { topic, partition } = range
  const ends = await log.endOffsets(topic)
  const to = BigInt(range.to)
  await scanTopics(
    log,
    [topic],
    async (_, records) => {
      const mine = records.filter((r) => r.partition === partition && BigInt(r.offset) < to)
      if (mine.length > 0) await onRecords(mine)
    },
    {
      groupPrefix: `${range.group}.stop-fence`,
      from: (_, p) => (p === partition ? BigInt(range.from) : BigInt(ends[p] ?? '0')),
      stallTimeoutMs: 60_000,
    },
  )
}
