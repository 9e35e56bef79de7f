/**
 * The outside audit's fault switchboard (test/unit/engine/audit-chaos.test.ts): every write the
 * live engine makes to a store — the object store's keys classified by what they hold (a staged
 * data file, a table commit's manifest, manifest list, metadata version or hint, a state base or
 * delta, the checkpoint record, a prune's delete), the online store's writes and syncs, the
 * dead-letter topic's produces, the consumer's progress commits — and the reads a restore makes,
 * counted per step. One armed fault hits call k of a step, in one of six ways: failed once (a
 * passing fault), written with its answer lost, an outage beyond every retry (each call failing, or
 * each landing with its answer lost), or the process dying before or after the call lands.
 */
import type { ConsumerHandlers, LogBatch, LogConsumer } from '../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'

export const FAULT_MODES = [
  'fails once',
  'answer lost',
  'outage',
  'outage, each call landed',
  'dies before',
  'dies after',
] as const
export type FaultMode = (typeof FAULT_MODES)[number]

export interface Fault {
  readonly step: string
  readonly k: number
  readonly mode: FaultMode
}

/** More consecutive failures than any retry of the engine allows (60 for sinks, 10 for checkpoint steps). */
const OUTAGE_CALLS = 80

export class AuditFault extends Error {}

const NEVER: Promise<never> = new Promise(() => {})

/** What an object-store key holds, for the step name. */
export function objectKind(key: string): string {
  if (key.startsWith('checkpoints/')) {
    if (/\/ckpt-\d+\.json$/.test(key)) return 'checkpoint record'
    if (/\/state-[^/]+\.bin$/.test(key)) return 'state base'
    if (/\/delta-[^/]+\.bin$/.test(key)) return 'state delta'
    return 'checkpoint other'
  }
  if (/\/data\//.test(key)) return 'data file'
  if (/version-hint/.test(key)) return 'version hint'
  if (/\.metadata\.json$/.test(key)) return 'table metadata'
  if (/\/snap-[^/]+\.avro$/.test(key)) return 'manifest list'
  if (/\.avro$/.test(key)) return 'manifest'
  return `other object ${key}`
}

export class Switchboard {
  readonly calls = new Map<string, number>()
  /** Steps seen in this switchboard's life (the run's enumeration of steps). */
  readonly steps = new Set<string>()
  #faults: { fault: Fault; failed: number }[] = []
  /** The faults that struck since the last recount. */
  readonly struck: string[] = []
  /** The steps a fault struck in this switchboard's life. */
  readonly everStruck = new Set<string>()
  onDie: () => void = () => {}

  /** Arms `fault` alone, its k counted from the step's calls so far. */
  arm(fault: Fault | undefined): void {
    this.armAll(fault === undefined ? [] : [fault])
  }

  /** Arms every one of `faults` at once (each on its own step and call). */
  armAll(faults: readonly Fault[]): void {
    this.#faults = faults.map((f) => ({ fault: { ...f, k: f.k + (this.calls.get(f.step) ?? 0) }, failed: 0 }))
  }

  /** Whether the last fault armed has struck. */
  get hit(): boolean {
    return (this.#faults.at(-1)?.failed ?? 0) > 0
  }

  /** Resets the per-step counts (a new engine counts its own calls). */
  recount(): void {
    this.calls.clear()
    this.struck.length = 0
  }

  async call<T>(step: string, run: () => Promise<T>): Promise<T> {
    this.steps.add(step)
    const n = (this.calls.get(step) ?? 0) + 1
    this.calls.set(step, n)
    const entry = this.#faults.find(
      (e) => e.fault.step === step && n >= e.fault.k && e.failed < (e.fault.mode.startsWith('outage') ? OUTAGE_CALLS : 1),
    )
    if (entry === undefined) return run()
    const { fault } = entry
    if (entry.failed++ === 0) this.struck.push(`${fault.mode} at ${step} #${n}`)
    this.everStruck.add(step)
    switch (fault.mode) {
      case 'dies before':
        this.#faults = []
        this.onDie()
        return NEVER
      case 'dies after':
        this.#faults = []
        await run()
        this.onDie()
        return NEVER
      case 'answer lost':
      case 'outage, each call landed':
        await run()
        throw new AuditFault(`audit: ${step} call ${n} landed, its answer lost`)
      default:
        throw new AuditFault(`audit: ${step} call ${n} failed (${fault.mode})`)
    }
  }

  store(inner: ObjectStore): ObjectStore {
    return {
      rootUri: inner.rootUri,
      uriOf: (key) => inner.uriOf(key),
      get: (key) => this.call(`get ${objectKind(key)}`, () => inner.get(key)),
      list: (prefix) =>
        this.call(`list ${prefix.startsWith('checkpoints/') ? 'checkpoints' : 'tables'}`, () => inner.list(prefix)),
      listWithTimes: (prefix) => inner.listWithTimes(prefix),
      put: (key, body) => this.call(`put ${objectKind(key)}`, () => inner.put(key, body)),
      putIfAbsent: (key, body) => this.call(`create ${objectKind(key)}`, () => inner.putIfAbsent(key, body)),
      delete: (key) => this.call(`delete ${objectKind(key)}`, () => inner.delete(key)),
    }
  }

  online(inner: OnlineStore): OnlineStore {
    return {
      writeRows: (view, rows) => this.call('online write', () => inner.writeRows(view, rows)),
      readRows: (lookups, nowMs) => inner.readRows(lookups, nowMs),
      ...(inner.sync === undefined ? {} : { sync: () => this.call('online sync', () => inner.sync!()) }),
      close: () => inner.close(),
    }
  }

  /** The log: dead-letter produces and the views' progress commits faulted; the rest as it is. */
  /** Whether batches are delivered again (duplicate offsets), as a client does after a lost commit or a rebalance. */
  redeliver: (() => boolean) | undefined

  /**
   * `handlers.eachBatch`, with the records already taken of a partition now and then delivered
   * again: the batch before this one, in front of it, or this one a second time.
   */
  #redelivering(handlers: ConsumerHandlers): ConsumerHandlers['eachBatch'] {
    const previous = new Map<string, LogBatch>()
    return async (batch) => {
      const key = `${batch.topic}/${batch.partition}`
      const before = previous.get(key)
      if (before !== undefined && this.redeliver?.()) await handlers.eachBatch(before)
      const outcome = await handlers.eachBatch(batch)
      if (outcome === undefined || outcome.consumed === batch.records.length) {
        previous.set(key, batch)
        if (this.redeliver?.()) await handlers.eachBatch(batch)
      }
      return outcome
    }
  }

  log(inner: TransactionalEventLog, deadLetterTopic: string): TransactionalEventLog {
    return {
      createTopic: (topic, partitions) => inner.createTopic(topic, partitions),
      partitionCount: (topic) => inner.partitionCount(topic),
      produce: (topic, records) =>
        topic === deadLetterTopic
          ? this.call('dead-letter produce', () => inner.produce(topic, records))
          : inner.produce(topic, records),
      endOffsets: (topic) => inner.endOffsets(topic),
      startOffsets: (topic) => inner.startOffsets(topic),
      committedOffsets: (groupId, topic) => inner.committedOffsets(groupId, topic),
      transaction: (id) => inner.transaction(id),
      consumer: (options) => {
        const consumer = inner.consumer(options)
        const stage = options.groupId.includes('rekey')
        const wrapped: LogConsumer = {
          run: (handlers: ConsumerHandlers) => consumer.run({ ...handlers, eachBatch: this.#redelivering(handlers) }),
          commit: (offsets) => (stage ? consumer.commit(offsets) : this.call('progress commit', () => consumer.commit(offsets))),
          seek: (position) => consumer.seek(position),
          pause: (partitions) => consumer.pause(partitions),
          resume: (partitions) => consumer.resume(partitions),
          stop: () => consumer.stop(),
        }
        return wrapped
      },
      close: () => inner.close(),
    }
  }
}
