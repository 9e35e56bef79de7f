/**
 * One `kfs ingest` of a table source appends at a time (docs/design.md §11).
 *
 * Ingest is idempotent because it reads what the log holds, then appends the rest. Two runs of
 * one source at once would each read the log before the other's appends and append the same rows
 * twice. So a run takes the source's lease before it reads the log, and appends only under it:
 *
 * - **A log owned by this process** (the embedded log: its directory lock keeps every other
 *   process out) needs no fence between processes; two runs in this process are refused here.
 * - **A shared log** (Kafka) fences through a transaction per appended chunk, under one
 *   transactional id per source topic. Opening the first one — before the log is read — fences
 *   every earlier run: Kafka aborts its open transaction and refuses its later ones
 *   (ports/event-log-transaction.ts). So the log this run reads holds every chunk an earlier run
 *   committed and none it will still commit, and the earlier run stops at its next chunk with a
 *   conflict, its remaining rows appended by this run instead. A chunk is committed whole or
 *   not at all, so a killed run leaves a prefix of its plan, as before.
 */
import { CommitError, FeatureStoreError } from '../core/errors.ts'
import type { EventLog, ProduceRecord } from '../ports/event-log.ts'
import { isTransactional, type LogTransaction, type TransactionalEventLog } from '../ports/event-log-transaction.ts'

/** The appends `appendPlan` makes: each call lands whole or not at all, in the order asked. */
export type Appends = Pick<EventLog, 'produce' | 'producePacked'>

export interface AppendLease {
  readonly appends: Appends
  /** Ends the lease: an open transaction that appended nothing is aborted. Never throws. */
  release(): Promise<void>
}

/** The topics being ingested in this process, per log (a log owned by this process fences nothing else). */
const ingesting = new WeakMap<EventLog, Set<string>>()

/** The transactional id that fences runs of an ingest into `topic`. */
export function ingestTransactionalId(topic: string): string {
  return `kfs-ingest.${topic}`
}

/** Takes the lease of `source`'s topic to append rows of `snapshot` (its id); call before the log is read. */
export async function takeAppendLease(
  log: EventLog,
  source: { readonly name: string; readonly topic: string },
  snapshot: string,
): Promise<AppendLease> {
  if (log.ownedByThisProcess === true || !isTransactional(log)) return inProcessLease(log, source)
  return transactionalLease(log, source, snapshot)
}

function inProcessLease(log: EventLog, source: { readonly name: string; readonly topic: string }): AppendLease {
  const topics = ingesting.get(log) ?? new Set<string>()
  ingesting.set(log, topics)
  if (topics.has(source.topic))
    throw new FeatureStoreError(
      'COMMIT_CONFLICT',
      `source ${source.name} is being ingested already; run one kfs ingest of a source at a time`,
    )
  topics.add(source.topic)
  return {
    // The log's own appends (appendPlan calls them as its methods), packed ones included.
    appends: log,
    release: async () => {
      topics.delete(source.topic)
    },
  }
}

async function transactionalLease(
  log: TransactionalEventLog,
  source: { readonly name: string; readonly topic: string },
  snapshot: string,
): Promise<AppendLease> {
  const id = ingestTransactionalId(source.topic)
  // The fence: Kafka's InitProducerId for this id, ending an earlier run's open transaction.
  // Which snapshot the fencing run ingests is not known here: it appends what this one had not
  // only if it is the same one (a later export holds later rows of the keys that changed).
  const conflict = (err: unknown): unknown =>
    err instanceof CommitError && err.code === 'COMMIT_CONFLICT'
      ? new FeatureStoreError(
          'COMMIT_CONFLICT',
          `another kfs ingest of source ${source.name} started while this one was appending snapshot ${snapshot}; this run's last chunk was discarded and nothing is doubled. ` +
            `If that run ingests the same snapshot it appends what this one had not; rows of this snapshot that another one does not hold are not appended. Run one kfs ingest of a source at a time. ` +
            `(Kafka fences a transaction that outlasts its timeout the same way: if no other run was started, use a smaller --batch.)`,
          { cause: err, context: { source: source.name, snapshot, transactionalId: id } },
        )
      : err
  let open: LogTransaction | undefined
  try {
    open = await log.transaction(id)
  } catch (err: unknown) {
    throw conflict(err)
  }
  const produce = async (
    topic: string,
    records: readonly ProduceRecord[],
  ): Promise<readonly { partition: number; offset: string }[]> => {
    let txn: LogTransaction
    try {
      txn = open ?? (await log.transaction(id))
    } catch (err: unknown) {
      throw conflict(err)
    }
    open = txn
    try {
      await txn.produce(topic, records)
      await txn.commit()
      open = undefined
    } catch (err: unknown) {
      open = undefined
      await txn.abort().catch(() => {})
      throw conflict(err)
    }
    // Offsets are not known inside a transaction; appendPlan does not ask for them.
    return []
  }
  return {
    appends: { produce },
    release: async () => {
      const txn = open
      open = undefined
      await txn?.abort().catch(() => {})
    },
  }
}
