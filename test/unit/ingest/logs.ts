/** Event logs for ingest tests: another log's methods, with `produce` replaced and no `producePacked` (as a Kafka log looks to ingest). */
import { CommitError } from '../../../core/errors.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'

export function forwardingLog(
  log: EventLog,
  produce: EventLog['produce'] = (topic, records) => log.produce(topic, records),
): EventLog {
  return {
    createTopic: (t, p) => log.createTopic(t, p),
    partitionCount: (t) => log.partitionCount(t),
    endOffsets: (t) => log.endOffsets(t),
    startOffsets: (t) => log.startOffsets(t),
    committedOffsets: (g, t) => log.committedOffsets(g, t),
    consumer: (o) => log.consumer(o),
    close: () => log.close(),
    produce,
  }
}

/** Where a log of `heldLog` may be held up: before reading end offsets, or a transaction's produce or commit. */
export type TransactionStep = 'end offsets' | 'produce' | 'commit'

/** `log`, with `hold` run before each step (and the step's count so far): a test can start another run at any point of this one. */
export function heldLog(log: TransactionalEventLog, hold: (step: TransactionStep, n: number) => Promise<void> = async () => {}): TransactionalEventLog {
  const steps = new Map<TransactionStep, number>()
  const held = async (step: TransactionStep): Promise<void> => {
    const n = steps.get(step) ?? 0
    steps.set(step, n + 1)
    await hold(step, n)
  }
  return {
    ...forwardingLog(log),
    async endOffsets(topic) {
      await held('end offsets')
      return log.endOffsets(topic)
    },
    async transaction(id: string): Promise<LogTransaction> {
      const txn = await log.transaction(id)
      return {
        async produce(topic, records) {
          await held('produce')
          await txn.produce(topic, records)
        },
        sendOffsets: (groupId, offsets) => txn.sendOffsets(groupId, offsets),
        async commit() {
          await held('commit')
          await txn.commit()
        },
        abort: () => txn.abort(),
      }
    },
  }
}

/**
 * Handles on one transactional log as Kafka gives them to separate processes: each handle is a
 * producer, whose first transaction of an id takes the id (InitProducerId: the open transaction
 * of the id is ended, every other handle of it fenced for good) and whose later ones run under
 * the epoch it got — refused once another handle took the id. The embedded log under it fences
 * an open transaction when a newer one of the id opens. Each handle is held as `heldLog` holds.
 */
export function sharedLogHandles(log: TransactionalEventLog): (hold?: (step: TransactionStep, n: number) => Promise<void>) => TransactionalEventLog {
  const holders = new Map<string, object>()
  return (hold) => {
    const me = {}
    const taken = new Set<string>()
    const current = (id: string): void => {
      if (holders.get(id) !== me) throw new CommitError('COMMIT_CONFLICT', 'fenced: a newer producer owns this transactional id', { context: { transactionalId: id } })
    }
    const producer: TransactionalEventLog = {
      ...forwardingLog(log),
      async transaction(id: string): Promise<LogTransaction> {
        if (!taken.has(id)) {
          taken.add(id)
          holders.set(id, me)
        }
        current(id)
        const txn = await log.transaction(id)
        return {
          async produce(topic, records) {
            current(id)
            await txn.produce(topic, records)
          },
          sendOffsets: (groupId, offsets) => txn.sendOffsets(groupId, offsets),
          commit: () => txn.commit(),
          abort: () => txn.abort(),
        }
      },
    }
    return heldLog(producer, hold)
  }
}

/** A hold that, at the `n`th `at` step of its run, runs `meanwhile` to its end first. */
export function holdAt(at: TransactionStep, n: number, meanwhile: () => Promise<unknown>): (step: TransactionStep, k: number) => Promise<void> {
  return async (step, k) => {
    if (step === at && k === n) await meanwhile()
  }
}
