/**
 * How a re-key stage that takes its source gets its row index (rekey-row-index.ts): the state topic
 * read whole — or, where that topic holds nothing although the stage has committed offsets (a stage
 * that ran before it kept an index: an upgrade), the index rebuilt from the source records it
 * forwarded, those before its committed offsets, decoded and routed as it routed them. Without
 * that, a row last changed before the upgrade would be unknown to the index: a later change that
 * names no group would leave it counted in its old group. The rebuilt entries go out with the
 * stage's next transaction, with its offsets.
 */
import type { Logger } from '../core/logger.ts'
import type { EventLog } from '../ports/event-log.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { RekeyPlan } from './plan-sources.ts'
import { rekeyRecord, resolveByIndex } from './rekey-records.ts'
import { restoreRowIndex, type RowGroupIndex } from './rekey-row-index.ts'
import { scanTopics } from './topic-scan.ts'

export { ROW_GROUPS_TOPIC_OPTIONS, RowGroupIndex, rowGroupsTopic } from './rekey-row-index.ts'

export interface RowIndexLoad {
  readonly log: EventLog
  readonly plan: RekeyPlan
  /** The stage's group: the throw-away readers' ids start with it. */
  readonly groupId: string
  readonly indexTopic: string
  readonly decoder: Decoder
  /** The stage's committed offsets of the source, per partition (what it has forwarded). */
  readonly committed: readonly (string | undefined)[]
  readonly logger: Logger
}

export async function loadRowIndex(load: RowIndexLoad, into: RowGroupIndex): Promise<void> {
  const { log, plan, committed, logger } = load
  const read = await restoreRowIndex(log, load.indexTopic, load.groupId, into, logger)
  if (read > 0 || !committed.some((offset) => offset !== undefined && BigInt(offset) > 0n)) return
  let forwarded = 0
  await scanTopics(
    log,
    [plan.source.topic],
    async (_topic, records) => {
      const before = records.filter((r) => BigInt(r.offset) < BigInt(committed[r.partition] ?? '0'))
      if (before.length === 0) return
      const decoded = await load.decoder.decodeBatch(before.map((r) => r.value))
      before.forEach((record, i) => resolveByIndex(plan, rekeyRecord(plan, record, decoded[i]!), into))
      forwarded += before.length
    },
    { groupPrefix: `${load.groupId}.row-groups-seed` },
  )
  logger.info(
    { records: forwarded, rows: into.size, topic: load.indexTopic },
    're-key stage rebuilt its row index from the records it had forwarded',
  )
}
