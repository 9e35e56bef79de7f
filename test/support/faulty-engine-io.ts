/**
 * The live engine's I/O outside the object store (which faulty-object-store.ts covers), behind
 * one switchboard: every call the engine makes to the online store, the dead-letter topic and the
 * event log (consumer batches, progress commits, offset reads, the re-key stage's transactions)
 * is counted per step kind, and one armed fault fails call k of one kind — before the call (the
 * write never happened: a refused connection), after it (it happened and its answer was lost: the
 * Redis timeout shape), or not at all because the process dies there (the call never returns; the
 * test then abandons every instance, crash-harness.ts, and reopens from disk).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { ConsumerHandlers, LogConsumer, ProduceRecord } from '../../ports/event-log.ts'
import type { LogTransaction, TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import type { OnlineStore } from '../../ports/online-store.ts'
import { InjectedFault } from './faulty-object-store.ts'

export interface IoFault {
  readonly step: string
  /** 1-based index, among the calls of `step`, of the first one that fails. */
  readonly k: number
  readonly when: 'before' | 'after' | 'dies'
  /** Consecutive failures from call k on, then the fault heals. */
  readonly times: number
}

const NEVER: Promise<never> = new Promise(() => {})

export class IoSwitchboard {
  /** Calls seen per step kind, in this switchboard's life. */
  readonly calls = new Map<string, number>()
  #fault: IoFault | undefined
  #failed = 0
  #onDie: () => void = () => {}
  readonly #exempt = new AsyncLocalStorage<true>()
  #died: () => void = () => {}
  readonly #dead = new Promise<void>((resolve) => (this.#died = resolve))

  private readonly deadLetterTopic: string
  constructor(deadLetterTopic: string) {
    this.deadLetterTopic = deadLetterTopic
  }

  arm(fault: IoFault, onDie: () => void = () => {}): void {
    this.#fault = fault
    this.#failed = 0
    this.#onDie = onDie
  }

  disarm(): void {
    this.#fault = undefined
  }

  /** How many calls the armed fault failed (or died in). */
  get failures(): number {
    return this.#failed
  }

  /**
   * Runs `fn` with its calls neither counted nor faulted: the test's own caught-up polling, whose
   * number of calls depends on timing (so "the last call" would move from run to run).
   */
  exempt<T>(fn: () => Promise<T>): Promise<T> {
    return this.#exempt.run(true, fn)
  }

  async call<T>(step: string, run: () => Promise<T>): Promise<T> {
    if (this.#exempt.getStore() === true) return run()
    const n = (this.calls.get(step) ?? 0) + 1
    this.calls.set(step, n)
    const fault = this.#fault
    if (fault === undefined || fault.step !== step || n < fault.k || this.#failed >= fault.times) return run()
    this.#failed++
    if (fault.when === 'dies') {
      this.#fault = undefined
      this.#onDie()
      this.#died()
      return NEVER
    }
    if (fault.when === 'after') await run()
    throw new InjectedFault(`injected ${fault.when === 'after' ? 'lost answer' : 'failure'} of ${step} (call ${n})`)
  }

  online(inner: OnlineStore): OnlineStore {
    return {
      writeRows: (view, rows) => this.call('online: write rows', () => inner.writeRows(view, rows)),
      readRows: (lookups, nowMs) => inner.readRows(lookups, nowMs),
      ...(inner.sync === undefined ? {} : { sync: () => this.call('online: sync', () => inner.sync!()) }),
      close: () => inner.close(),
    }
  }

  log(inner: TransactionalEventLog): TransactionalEventLog {
    const produceStep = (topic: string) => (topic === this.deadLetterTopic ? 'dead letters: produce' : `log: produce ${topic}`)
    return {
      createTopic: (topic, partitions) => inner.createTopic(topic, partitions),
      partitionCount: (topic) => inner.partitionCount(topic),
      produce: (topic, records: readonly ProduceRecord[]) => this.call(produceStep(topic), () => inner.produce(topic, records)),
      endOffsets: (topic) => this.call('log: end offsets', () => inner.endOffsets(topic)),
      startOffsets: (topic) => this.call('log: start offsets', () => inner.startOffsets(topic)),
      committedOffsets: (groupId, topic) => this.call('log: committed offsets', () => inner.committedOffsets(groupId, topic)),
      transaction: async (id) => this.#transaction(await this.call('re-key: open transaction', () => inner.transaction(id))),
      consumer: (options) => this.#consumer(inner.consumer(options), options.groupId),
      close: () => inner.close(),
    } satisfies TransactionalEventLog
  }

  #transaction(inner: LogTransaction): LogTransaction {
    return {
      produce: (topic, records) => this.call('re-key: produce', () => inner.produce(topic, records)),
      sendOffsets: (groupId, offsets) => this.call('re-key: send offsets', () => inner.sendOffsets(groupId, offsets)),
      commit: () => this.call('re-key: commit', () => inner.commit()),
      abort: () => this.call('re-key: abort', () => inner.abort()),
    }
  }

  /** Batches of the view stage and of a re-key stage are separate steps (their groups differ). */
  #consumer(inner: LogConsumer, groupId: string): LogConsumer {
    const who = groupId.includes('rekey') ? 're-key' : 'views'
    return {
      run: (handlers: ConsumerHandlers) =>
        inner.run({
          ...handlers,
          // A batch the process died in is let go (nothing taken) once it is dead: the log's
          // consumer waits for its batch before it leaves the group, as Kafka's session ends.
          eachBatch: (batch) =>
            Promise.race([
              this.call(`log: batch delivery (${who})`, () => handlers.eachBatch(batch)),
              this.#dead.then(() => ({ consumed: 0 })),
            ]),
        }),
      commit: (offsets) => this.call(`log: commit progress (${who})`, () => inner.commit(offsets)),
      seek: (position) => inner.seek(position),
      pause: (partitions) => inner.pause(partitions),
      resume: (partitions) => inner.resume(partitions),
      stop: () => inner.stop(),
    }
  }
}
