/**
 * Event-time alignment of a re-key stage (docs/semantics.md §16): a strict record-level merge of
 * ALL partitions of the source topic. Pure bookkeeping, no I/O — the stage feeds it what the
 * consumer fetched and forwards what `take` returns, in that order.
 *
 * Why: an internal partition interleaves every source partition in the order the stage forwards
 * them. Forwarding whole backlog batches one partition after the other makes its event time jump
 * back by a batch's span and the views refuse good events as late; forwarding in an order that
 * depends on fetch timing makes two runs (or a run and its restart after a crash) produce different
 * internal topics, hence different rows.
 *
 * Strategy: one queue ("lane") per source partition. Every record has a merge key (event time,
 * partition); a record the merge need not order — refused (dead letter) or without an event time —
 * has key (−∞, partition). `take` repeatedly emits the lane head with the smallest key, but only
 * when no lane that could still deliver a smaller key is waiting: a lane with an empty queue holds
 * the merge back unless it is known to be at its end (read position ≥ its high watermark). A
 * waiting lane q can only deliver keys ≥ (−∞, q), so an unordered head of a lane p < q may still go.
 *
 * Invariant (why a crash changes nothing): `take` emits a record only when it is the smallest key
 * among the heads of ALL lanes, those not fetched yet included. So, on input that is all present
 * (a backlog), the emitted sequence is exactly the offline merge "repeatedly take the smallest
 * head" of the partitions' record sequences — independent of batch boundaries, fetch order and
 * timing — and that merge depends only on the lanes' remaining records. A restart from committed
 * offsets (the positions after the last forwarded record of each partition) therefore continues
 * the very same sequence.
 *
 * Bound: when a record x is emitted, the head h of every other lane p has a key ≥ x's, and h is at
 * or before p's next record r; so x's event time ≤ the largest event time in p up to r. An event
 * on time in its own partition (not more than outOfOrderness + allowedLateness behind its
 * partition's maximum so far) is therefore on time in the merged stream and in every internal
 * partition (a subsequence of it). Only in the live tail, where a lane at its end gets new records,
 * does arrival order decide.
 */
import { InvariantViolation } from '../core/errors.ts'

export interface MergeRecord<T> {
  readonly offset: bigint
  /** Event time; undefined: the merge need not order the record (refused, or no event time). */
  readonly timeMs: number | undefined
  readonly value: T
}

export interface Merged<T> {
  readonly partition: number
  readonly record: MergeRecord<T>
}

interface Lane<T> {
  readonly queue: MergeRecord<T>[]
  head: number
  /** Next offset the consumer reads (after the last queued record); undefined until started. */
  position: bigint | undefined
  /** The partition's end (high watermark), as last learnt. */
  end: bigint | undefined
}

export class RecordMerge<T> {
  readonly #lanes: Lane<T>[]

  constructor(partitions: number) {
    if (!Number.isInteger(partitions) || partitions < 1)
      throw new RangeError(`a merge needs at least one partition, got ${partitions}`)
    this.#lanes = Array.from({ length: partitions }, () => ({ queue: [], head: 0, position: undefined, end: undefined }))
  }

  get partitions(): number {
    return this.#lanes.length
  }

  /** The lane reads from `position` on (the group's committed offset); anything queued is dropped. */
  start(partition: number, position: bigint, endOffset?: bigint): void {
    const lane = this.#lane(partition)
    lane.queue.length = 0
    lane.head = 0
    lane.position = position
    lane.end = endOffset
  }

  /** The lane is no longer read by this member: it holds the merge back until started again. */
  stop(partition: number): void {
    this.start(partition, 0n)
    this.#lane(partition).position = undefined
  }

  started(partition: number): boolean {
    return this.#lane(partition).position !== undefined
  }

  /**
   * Records the consumer fetched, in offset order; `nextOffset` is where its next read starts and
   * `highWatermark` the partition's end at the fetch. Records before the lane's position (a
   * redelivery) are ignored. Returns how many were queued.
   */
  add(partition: number, records: readonly MergeRecord<T>[], nextOffset: bigint, highWatermark: bigint): number {
    const lane = this.#lane(partition)
    if (lane.position === undefined)
      throw new InvariantViolation('records fetched for a source partition the merge was not started for', {
        context: { partition },
      })
    let queued = 0
    const from = lane.position
    let lastQueued: bigint | undefined
    for (const r of records) {
      if (r.offset < from || (lastQueued !== undefined && r.offset <= lastQueued)) continue
      lane.queue.push(r)
      lastQueued = r.offset
      queued++
    }
    // Offsets only grow within a batch: the position follows its last queued record (one BigInt a batch).
    if (lastQueued !== undefined) lane.position = lastQueued + 1n
    this.moved(partition, nextOffset, highWatermark)
    return queued
  }

  /** The consumer's read position moved without records (past transaction markers, aborted records). */
  moved(partition: number, nextOffset: bigint, highWatermark: bigint): void {
    const lane = this.#lane(partition)
    if (lane.position === undefined) return
    if (nextOffset > lane.position) lane.position = nextOffset
    this.learnEnd(partition, highWatermark)
  }

  /** The partition's end as the log reports it (end offsets, high watermark). */
  learnEnd(partition: number, endOffset: bigint): void {
    const lane = this.#lane(partition)
    if (lane.end === undefined || endOffset > lane.end) lane.end = endOffset
  }

  /** Next offset the consumer reads for the partition (undefined: not started). */
  position(partition: number): bigint | undefined {
    return this.#lane(partition).position
  }

  queued(partition: number): number {
    const lane = this.#lane(partition)
    return lane.queue.length - lane.head
  }

  /** Nothing queued and everything up to the partition's known end read. */
  atEnd(partition: number): boolean {
    const lane = this.#lane(partition)
    return lane.queue.length === lane.head && lane.position !== undefined && lane.end !== undefined && lane.position >= lane.end
  }

  /** Lanes holding the merge back: nothing queued and not known to be at their end. */
  waiting(): number[] {
    const out: number[] = []
    for (let p = 0; p < this.#lanes.length; p++) if (this.queued(p) === 0 && !this.atEnd(p)) out.push(p)
    return out
  }

  /** Up to `max` records in merge order, as far as the merge can go now. */
  take(max: number): Merged<T>[] {
    const out: Merged<T>[] = []
    while (out.length < max) {
      let best = -1
      let bestTime = Infinity
      let firstWaiting = Infinity
      for (let p = 0; p < this.#lanes.length; p++) {
        const lane = this.#lanes[p] as Lane<T>
        if (lane.head === lane.queue.length) {
          if (firstWaiting === Infinity && !this.atEnd(p)) firstWaiting = p
          continue
        }
        const time = (lane.queue[lane.head] as MergeRecord<T>).timeMs ?? -Infinity
        // Strictly smaller: on equal times the smaller partition, scanned first, wins.
        if (best < 0 || time < bestTime) {
          best = p
          bestTime = time
        }
      }
      if (best < 0) break
      // A waiting lane could still deliver any key ≥ (−∞, its partition).
      if (firstWaiting !== Infinity && (bestTime !== -Infinity || best > firstWaiting)) break
      const lane = this.#lanes[best] as Lane<T>
      out.push({ partition: best, record: lane.queue[lane.head] as MergeRecord<T> })
      lane.head++
      if (lane.head === lane.queue.length) {
        lane.queue.length = 0
        lane.head = 0
      } else if (lane.head >= 4096 && lane.head * 2 >= lane.queue.length) {
        lane.queue.splice(0, lane.head)
        lane.head = 0
      }
    }
    return out
  }

  #lane(partition: number): Lane<T> {
    const lane = this.#lanes[partition]
    if (lane === undefined)
      throw new RangeError(`source partition ${partition} is outside the merge's ${this.#lanes.length} partitions`)
    return lane
  }
}
