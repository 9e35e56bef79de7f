/**
 * A re-key stage's committed offsets are its only record of what it forwarded (docs/semantics.md
 * §16), and they live in a Kafka consumer group an operator can reset or delete
 * (`kafka-consumer-groups.sh --reset-offsets --to-earliest`, `--delete`, `--delete-offsets`). A
 * stage that took such offsets at their word would forward again what the internal topic already
 * holds, and every re-keyed view would count those events twice, online and offline, with no
 * checkpoint or parity check to notice (replay reads the same doubled internal topic).
 *
 * The internal topic says what was forwarded: each event carries its origin (`kfs-source-partition`,
 * `kfs-source-offset`). So a new owner, once it has fenced the last one, reads the tail of each
 * internal partition and refuses committed offsets at or before an origin offset found there — a
 * lower bound of what was forwarded, enough to see a group reset to an earlier point or deleted
 * while the topic holds its records. A reset forward (`--to-latest`) skips records and cannot be
 * told from records the stage refused (their dead letters are elsewhere): that stays the
 * operator's to avoid (docs/semantics.md §16).
 */
import { InvariantViolation } from '../core/errors.ts'
import type { EventLog, LogRecord } from '../ports/event-log.ts'
import { REKEY_HEADERS } from './rekey-records.ts'
import { unbundle } from './rekey-bundle.ts'
import { scanTopics } from './topic-scan.ts'

/**
 * Offsets read back from each internal partition's end: a transaction writes at most a few
 * bundles to a partition and one commit marker, so its last bundle lies within them even after
 * a run of aborted transactions.
 */
const TAIL_OFFSETS = 64n

/** Source partition → the highest origin offset found in the tail of `internalTopic`. */
export async function forwardedTail(log: EventLog, internalTopic: string, groupId: string): Promise<Map<number, bigint>> {
  const [starts, ends] = await Promise.all([log.startOffsets(internalTopic), log.endOffsets(internalTopic)])
  const forwarded = new Map<number, bigint>()
  if (ends.every((end, p) => BigInt(end) <= BigInt(starts[p] ?? '0'))) return forwarded
  const take = (records: readonly LogRecord[]): void => {
    for (const event of unbundle(records).events) {
      const partition = event.headers[REKEY_HEADERS.partition]
      const offset = event.headers[REKEY_HEADERS.offset]
      if (partition === undefined || offset === undefined || !/^\d+$/.test(partition) || !/^\d+$/.test(offset)) continue
      const at = BigInt(offset)
      if (at > (forwarded.get(Number(partition)) ?? -1n)) forwarded.set(Number(partition), at)
    }
  }
  await scanTopics(log, [internalTopic], (_topic, records) => take(records), {
    groupPrefix: `${groupId}.forwarded`,
    // Sought explicitly, also to the log's start: a client left to its reset rule could start at the end.
    from: (_topic, partition) => {
      const start = BigInt(starts[partition] ?? '0')
      const tail = BigInt(ends[partition] ?? '0') - TAIL_OFFSETS
      return tail > start ? tail : start
    },
  })
  return forwarded
}

/** Refuses committed offsets (index = source partition) at or before an offset the stage already forwarded. */
export function refuseCommittedBehindForwarded(
  where: { groupId: string; topic: string; internalTopic: string },
  committed: readonly (string | undefined)[],
  forwarded: ReadonlyMap<number, bigint>,
): void {
  const behind = [...forwarded]
    .filter(([partition, offset]) => {
      const at = committed[partition]
      return at === undefined || BigInt(at) <= offset
    })
    .sort(([a], [b]) => a - b)
  if (behind.length === 0) return
  const said = behind.map(
    ([p, offset]) => `${where.topic}/${p} committed at ${committed[p] ?? 'nothing'}, forwarded through offset ${offset}`,
  )
  throw new InvariantViolation(
    `re-key group ${where.groupId}: its committed offsets are behind what ${where.internalTopic} already holds (${said.join('; ')}). ` +
      `They were reset or deleted; forwarding from there would count those events twice in every view over ${where.internalTopic}. ` +
      `kfs stops: set the group's offsets back (kafka-consumer-groups.sh --reset-offsets --to-offset, past each offset named) and run again (docs/semantics.md §16).`,
    { context: { group: where.groupId, topic: where.topic, internalTopic: where.internalTopic, behind: said.join('; ') } },
  )
}
