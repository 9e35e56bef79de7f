/**
 * The re-key stage's row index (docs/table-and-changelog-sources.md, "Partial images"): for a change
 * source re-keyed for current-state views, primary key → the group of the row's last forwarded after
 * image (by its raw join keys, as the stage routes). A change says which group its row leaves only in
 * its before image, and Postgres under `REPLICA IDENTITY DEFAULT` sends none with an update and only
 * the key with a delete (MySQL's minimal row image likewise): the index names that group instead, so
 * the row leaves it — Kafka Streams' KTable re-partitioning and Flink's changelog normalisation keep
 * the same per-key state for the same reason.
 *
 * It also keeps each row's version: the commit time of its last forwarded change (a delete's too).
 * A change older than that is superseded (docs/design.md §11: changes apply per key in commit-time
 * order) and is not forwarded: the groups hold a row's version only where the row is, so an older
 * change whose after image names another group would otherwise join the row to it as well — counted
 * twice — or bring a deleted row back (`resolveByIndex`).
 *
 * Exactly once with the stage: the index changes as the stage builds a transaction, in the merge's
 * order, and each transaction also writes the changes (last one per key) to a compacted state topic,
 * `<internal topic>.row-groups` (key: the primary key; value: the group, or a NUL byte for a deleted row;
 * header `kfs-commit-time`: the version). A stage that takes the source reads that topic whole after
 * fencing the last owner, so its index is the one of the committed offsets; a failed transaction is
 * fatal and the engine restarts from there. Records an older stage wrote still read: a tombstone
 * (a deleted row, version unknown) removes the row, a group without the header has no version, so
 * the row's next change is forwarded whatever its time. Memory: one entry a row seen, deleted rows
 * included (their version must outlive them).
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
  /** The group the before image names, when it names one (`resolveByIndex` holds it against the index's). */
  readonly from?: string
}

const TEXT = new TextEncoder()
const UTF8 = new TextDecoder()
/**
 * A deleted row's value: a NUL byte, which no group holds (entity keys have no control characters),
 * and not an empty value, which a Kafka client may hand back as none (a tombstone).
 */
const DELETED = new Uint8Array([0])

/** The state-topic header holding a row's version (its last forwarded change's commit time). */
export const COMMIT_TIME_HEADER = 'kfs-commit-time'

interface Row {
  /** The group of the row's last after image; null once deleted. */
  readonly group: string | null
  /** Commit time of the row's last forwarded change; -Infinity when not known (an older stage's record, a change without a time). */
  readonly t: number
}

export class RowGroupIndex {
  readonly #rows = new Map<string, Row>()
  /** Changes since the last `takeWrites`, each key's last. */
  readonly #written = new Map<string, Row>()

  /** Rows known, deleted ones included. */
  get size(): number {
    return this.#rows.size
  }

  /** The group the row's last forwarded after image named; undefined for a row never seen (or deleted). */
  groupOf(pk: string): string | undefined {
    return this.#rows.get(pk)?.group ?? undefined
  }

  /** The commit time of the row's last forwarded change (a delete's too); undefined when not known. */
  versionOf(pk: string): number | undefined {
    const t = this.#rows.get(pk)?.t
    return t === undefined || t === -Infinity ? undefined : t
  }

  /**
   * Moves the row as a forwarded change at `timeMs` does; an upsert whose after image names no group
   * leaves it where it was. A change without a time keeps the row's version, and so does a delete
   * of a row not live (the views refuse it: `unknown_retraction`, changing nothing).
   */
  apply(change: IndexedChange, timeMs: number | undefined): void {
    const held = this.#rows.get(change.pk)
    const t = timeMs ?? held?.t ?? -Infinity
    if (change.kind === 'delete') {
      if (held?.group != null) this.#set(change.pk, { group: null, t })
    } else if (change.to !== undefined) this.#set(change.pk, { group: change.to, t })
    else if (held !== undefined && held.t !== t) this.#set(change.pk, { group: held.group, t })
  }

  #set(pk: string, row: Row): void {
    this.#rows.set(pk, row)
    this.#written.set(pk, row)
  }

  /** The changes since the last call, as state-topic records (a deleted row as a NUL byte). */
  takeWrites(): ProduceRecord[] {
    const records: ProduceRecord[] = []
    for (const [pk, { group, t }] of this.#written) {
      const value = group === null ? DELETED : TEXT.encode(group)
      records.push(t === -Infinity ? { key: pk, value } : { key: pk, value, headers: { [COMMIT_TIME_HEADER]: String(t) } })
    }
    this.#written.clear()
    return records
  }

  /** Forgets everything: the state topic is read again (after a new owner fenced the last). */
  clear(): void {
    this.#rows.clear()
    this.#written.clear()
  }

  /** Applies state-topic records in offset order (a record without a key is not one of the stage's: skipped). */
  load(records: readonly LogRecord[]): void {
    for (const record of records) {
      if (record.key === null) continue
      const pk = UTF8.decode(record.key)
      if (record.value === null) {
        this.#rows.delete(pk)
        continue
      }
      const header = record.headers[COMMIT_TIME_HEADER]
      const t = header === undefined ? -Infinity : Number(header)
      const group =
        record.value.length === 0 || (record.value.length === 1 && record.value[0] === 0) ? null : UTF8.decode(record.value)
      this.#rows.set(pk, { group, t: Number.isSafeInteger(t) ? t : -Infinity })
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
