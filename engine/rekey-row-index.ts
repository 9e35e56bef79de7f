/**
 * The re-key stage's row index (docs/table-and-changelog-sources.md, "Partial images"): for a change
 * source re-keyed for current-state views, primary key → the group of the row's last forwarded after
 * image (by its raw join keys, as the stage routes). A change says which group its row leaves only in
 * its before image, and Postgres under `REPLICA IDENTITY DEFAULT` sends none with an update and only
 * the key with a delete (MySQL's minimal row image likewise): the index names that group instead, so
 * the row leaves it — Kafka Streams' KTable re-partitioning and Flink's changelog normalisation keep
 * the same per-key state for the same reason.
 *
 * Exactly once with the stage: the index changes as the stage builds a transaction, in the merge's
 * order, and each transaction also writes the changes (last one per key) to a compacted state topic,
 * `<internal topic>.row-groups` (key: the primary key, value: the group, none when the row is in no
 * group). A stage that takes the source reads that topic whole after fencing the last owner, so its
 * index is the one of the committed offsets; a failed transaction is fatal and the engine restarts
 * from there. Memory: one entry a live row.
 */
import type { EventLog, LogRecord, ProduceRecord } from '../ports/event-log.ts'
import { scanTopics } from './topic-scan.ts'
import type { Logger } from '../core/logger.ts'

/** The state topic of the re-key stage writing `internalTopic`. */
export function rowGroupsTopic(internalTopic: string): string {
  return `${internalTopic}.row-groups`
}

/** The compaction setting of the state topic: each key's newest record is all a restore reads. */
export const ROW_GROUPS_TOPIC_OPTIONS = { compactAfterMs: 0 } as const

/** What one forwarded change does to the index, and whether its retraction needs it. */
export interface IndexedChange {
  /** The row's primary key (canonical entity key). */
  readonly pk: string
  readonly kind: 'upsert' | 'delete'
  /** The after image's group; undefined for a delete, or when the after image names none (the views refuse the change whole). */
  readonly to: string | undefined
  /** The before image names no group (none, or key-only): the retraction goes to the group the index holds. */
  readonly byIndex: boolean
}

const TEXT = new TextEncoder()
const UTF8 = new TextDecoder()

export class RowGroupIndex {
  readonly #groups = new Map<string, string>()
  /** Changes since the last `takeWrites`: the group, or null when the row is in none. */
  readonly #written = new Map<string, string | null>()

  get size(): number {
    return this.#groups.size
  }

  /** The group the row's last forwarded after image named; undefined for a row never seen (or deleted). */
  groupOf(pk: string): string | undefined {
    return this.#groups.get(pk)
  }

  /** Moves the row as a forwarded change does; an upsert whose after image names no group leaves it where it was. */
  apply(change: IndexedChange): void {
    if (change.kind === 'delete') this.#set(change.pk, null)
    else if (change.to !== undefined) this.#set(change.pk, change.to)
  }

  #set(pk: string, group: string | null): void {
    if (group === null) this.#groups.delete(pk)
    else this.#groups.set(pk, group)
    this.#written.set(pk, group)
  }

  /** The changes since the last call, as state-topic records (a removed row as a tombstone). */
  takeWrites(): ProduceRecord[] {
    const records: ProduceRecord[] = []
    for (const [pk, group] of this.#written) records.push({ key: pk, value: group === null ? null : TEXT.encode(group) })
    this.#written.clear()
    return records
  }

  /** Forgets everything: the state topic is read again (after a new owner fenced the last). */
  clear(): void {
    this.#groups.clear()
    this.#written.clear()
  }

  /** Applies state-topic records in offset order (a record without a key is not one of the stage's: skipped). */
  load(records: readonly LogRecord[]): void {
    for (const record of records) {
      if (record.key === null) continue
      const pk = UTF8.decode(record.key)
      if (record.value === null) this.#groups.delete(pk)
      else this.#groups.set(pk, UTF8.decode(record.value))
    }
  }
}

/** The index of the committed offsets: the state topic read whole (read-committed), once the last owner is fenced; resolves the records read. */
export async function restoreRowIndex(
  log: EventLog,
  topic: string,
  groupId: string,
  into: RowGroupIndex,
  logger: Logger,
): Promise<number> {
  into.clear()
  let read = 0
  await scanTopics(
    log,
    [topic],
    (_topic, records) => {
      into.load(records)
      read += records.length
    },
    { groupPrefix: `${groupId}.row-groups` },
  )
  logger.info({ rows: into.size, topic }, 're-key stage read its row index')
  return read
}
