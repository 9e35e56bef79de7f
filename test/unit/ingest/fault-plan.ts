/**
 * Every I/O step `kfs ingest` takes, counted and faultable: the event-log port's calls (topic
 * creation, end and start offsets, produce or producePacked, the scan's consumer, its start, each
 * batch it delivers, its stop), the disk under the embedded log (each partition's write and fsync,
 * through EmbeddedEventLogOptions.fault), the snapshot reader (open, each batch of rows) and the
 * decoder's reads of the log. A run without a target lists the steps; a run with one fails step k
 * in one of these ways:
 * - `throw-before`: the call throws having done nothing;
 * - `throw-after`: the call does its work (a produce lands), then throws (its answer was lost);
 * - `die-before` / `die-after`: the process dies there — the log's directory is copied as it is on
 *   disk at that instant (what a new process would open) and every later call of this process
 *   throws, as if it were gone;
 * - `die-torn` (a partition's write): the process dies in the middle of the write — the copy's
 *   segment ends one byte short of it, its last record torn.
 * A disk step does no work of its own (the write is done or not by the partition log around it),
 * so its `-after` kinds are its `-before` ones.
 */
import type { EventLog, LogConsumer } from '../../../ports/event-log.ts'
import type { TableSnapshot, TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import type { Decoder } from '../../../schemas/decoder.ts'

const CALL_KINDS = ['throw-before', 'throw-after', 'die-before', 'die-after'] as const
export type FaultKind = (typeof CALL_KINDS)[number] | 'die-torn'

/** The kinds that differ at a step (see the module comment). */
export function kindsAt(seam: string): readonly FaultKind[] {
  if (seam === 'disk.written') return ['throw-before', 'die-before', 'die-torn']
  return seam.startsWith('disk.') ? ['throw-before', 'die-before'] : CALL_KINDS
}

export class InjectedFault extends Error {
  override readonly name = 'InjectedFault'
}

/** A call made after the process "died": it never happens in a real crash, so it must fail too. */
export class ProcessGone extends Error {
  override readonly name = 'ProcessGone'
}

export class FaultPlan {
  /** The seam of every step taken, in order. */
  readonly steps: string[] = []
  injected = 0
  dead = false
  /**
   * A packed append refused before it reached the log. The port promises that an append asked
   * behind a failed one is not written (ports/event-log.ts producePacked), which ingest's
   * pipelining builds on — and which the embedded log keeps, its refusals before writing being
   * for good (closed, a commit in doubt) — so a log that refused one refuses those after it.
   */
  packedRefused = false
  readonly #target: { readonly step: number; readonly kind: FaultKind } | undefined
  readonly #die: (torn: string | undefined) => void
  /** The partition directory of the disk step being taken. */
  #diskDir: string | undefined

  /**
   * `die` copies the log's directory as it is now (called once, synchronously, at the death);
   * `torn`: the partition directory whose last segment is to end one byte short in the copy.
   */
  constructor(target?: { step: number; kind: FaultKind }, die: (torn: string | undefined) => void = () => {}) {
    this.#target = target
    this.#die = die
  }

  async call<T>(seam: string, work: () => Promise<T>): Promise<T> {
    const kind = this.#take(seam)
    if (kind === undefined) return work()
    this.#before(seam, kind)
    await work()
    throw this.#after(seam, kind)
  }

  callSync<T>(seam: string, work: () => T): T {
    const kind = this.#take(seam)
    if (kind === undefined) return work()
    this.#before(seam, kind)
    work()
    throw this.#after(seam, kind)
  }

  /** Counts the step; its fault kind when it is the target. */
  #take(seam: string): FaultKind | undefined {
    if (this.dead) throw new ProcessGone(`${seam} after the process died`)
    const step = this.steps.push(seam) - 1
    if (this.#target?.step !== step) return undefined
    this.injected++
    return this.#target.kind
  }

  #before(seam: string, kind: FaultKind): void {
    if (kind === 'throw-before') {
      if (seam === 'log.producePacked') this.packedRefused = true
      throw new InjectedFault(`injected fault before ${seam}`)
    }
    if (kind === 'die-before' || kind === 'die-torn') {
      this.#dieNow(kind === 'die-torn' ? this.#diskDir : undefined)
      throw new ProcessGone(`the process died ${kind === 'die-torn' ? 'in the middle of' : 'before'} ${seam}`)
    }
  }

  #after(seam: string, kind: FaultKind): Error {
    if (kind === 'die-after') {
      this.#dieNow(undefined)
      return new ProcessGone(`the process died after ${seam}`)
    }
    return new InjectedFault(`injected fault after ${seam}`)
  }

  #dieNow(torn: string | undefined): void {
    this.#die(torn)
    this.dead = true
  }

  /** EmbeddedEventLogOptions.fault: each partition write's steps. */
  readonly disk = (step: 'written' | 'fsync', dir: string): void => {
    this.#diskDir = dir
    this.callSync(`disk.${step}`, () => {})
  }
}

/** `log` with every call a step; `packed`: offer producePacked when `log` has it (false: ingest sees a log without it, as a Kafka log). */
export function faultyLog(log: EventLog, plan: FaultPlan, packed: boolean): EventLog {
  const producePacked = log.producePacked?.bind(log)
  return {
    createTopic: (t, p) => plan.call('log.createTopic', () => log.createTopic(t, p)),
    partitionCount: (t) => plan.call('log.partitionCount', () => log.partitionCount(t)),
    produce: (t, records) => plan.call('log.produce', () => log.produce(t, records)),
    ...(packed && producePacked !== undefined
      ? {
          producePacked: (t, records) =>
            plan.call('log.producePacked', () =>
              plan.packedRefused
                ? Promise.reject(new InjectedFault('packed append refused: one asked before it was'))
                : producePacked(t, records),
            ),
        }
      : {}),
    endOffsets: (t) => plan.call('log.endOffsets', () => log.endOffsets(t)),
    startOffsets: (t) => plan.call('log.startOffsets', () => log.startOffsets(t)),
    committedOffsets: (g, t) => plan.call('log.committedOffsets', () => log.committedOffsets(g, t)),
    consumer: (options) =>
      faultyConsumer(
        plan.callSync('log.consumer', () => log.consumer(options)),
        plan,
      ),
    close: () => log.close(),
  }
}

function faultyConsumer(consumer: LogConsumer, plan: FaultPlan): LogConsumer {
  return {
    run: (handlers) =>
      plan.call('consumer.run', () =>
        consumer.run({ ...handlers, eachBatch: (batch) => plan.call('consumer.batch', () => handlers.eachBatch(batch)) }),
      ),
    commit: (offsets) => plan.call('consumer.commit', () => consumer.commit(offsets)),
    seek: (position) => consumer.seek(position),
    pause: (partitions) => consumer.pause(partitions),
    resume: (partitions) => consumer.resume(partitions),
    stop: () => plan.call('consumer.stop', () => consumer.stop()),
  }
}

export function faultyReader(reader: TableSnapshotReader, plan: FaultPlan): TableSnapshotReader {
  return {
    open: async (location, at) => {
      const snapshot = await plan.call('snapshot.open', () => reader.open(location, at))
      return faultySnapshot(snapshot, plan)
    },
  }
}

function faultySnapshot(snapshot: TableSnapshot, plan: FaultPlan): TableSnapshot {
  const { columnBatches } = snapshot
  return {
    id: snapshot.id,
    where: snapshot.where,
    columns: snapshot.columns,
    rowCount: snapshot.rowCount,
    rows: () => stepped(snapshot.rows(), 'snapshot.rows', plan),
    ...(columnBatches === undefined
      ? {}
      : { columnBatches: () => stepped(columnBatches.call(snapshot), 'snapshot.columnBatches', plan) }),
  }
}

/** Each batch read (each `next`, the one that finds the end included) is a step. */
function stepped<T>(batches: AsyncIterable<T>, seam: string, plan: FaultPlan): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      const it = batches[Symbol.asyncIterator]()
      return { next: () => plan.call(seam, () => it.next()) }
    },
  }
}

export function faultyDecoder(decoder: Decoder, plan: FaultPlan): Decoder {
  return {
    decode: (value) => plan.call('decoder.decode', () => decoder.decode(value)),
    decodeBatch: (values) => plan.call('decoder.decodeBatch', () => decoder.decodeBatch(values)),
  }
}
