/**
 * The embedded log's packed appends (`producePacked`) as a pipeline: chunk k+1 is framed (on the
 * framing worker, ./packed-framer.ts) while chunk k is written, and written only once chunk k is
 * — every chunk after a failed one fails unwritten, so each partition still receives a prefix of
 * what was asked, in call order. Chunk k+1's offsets start where chunk k's framing ended them.
 *
 * A packed append joins the pipeline only when the append asked right before it was a packed
 * append of the same topic still in flight, and no other append is waiting; otherwise it waits,
 * like every other append, until nothing packed is in flight (`drain`), so appends stay in the
 * order they were asked.
 */
import { SourceError } from '../../../core/errors.ts'
import type { PackedRecords } from '../../../ports/event-log.ts'
import { framePacked } from './packed-framer.ts'
import type { PartitionLog } from './partition-log.ts'

interface InFlight {
  readonly topic: string
  /** Each partition's end offset once this append is written (known once it is framed). */
  readonly ends: Promise<readonly number[]>
  /** Settles (never rejects) once this append and all before it have settled. */
  readonly settled: Promise<void>
  readonly ok: Promise<boolean>
}

export class PackedAppends {
  #tail: InFlight | undefined
  /** Appends waiting in `drain`: a packed append asked meanwhile must queue behind them. */
  #waiting = 0
  readonly #onWritten: () => void

  constructor(onWritten: () => void) {
    this.#onWritten = onWritten
  }

  /** Whether a packed append is in flight. */
  get busy(): boolean {
    return this.#tail !== undefined
  }

  /** Resolves once no packed append is in flight; no await between its end and the caller's append. */
  async drain(): Promise<void> {
    while (this.#tail !== undefined) {
      this.#waiting++
      try {
        await this.#tail.settled
      } finally {
        this.#waiting--
      }
    }
  }

  /** Whether an append of `topic` asked now may join the pipeline without waiting. */
  canJoin(topic: string): boolean {
    return this.#tail !== undefined && this.#tail.topic === topic && this.#waiting === 0
  }

  /**
   * Appends `records` (a `takePacked` copy: it may be transferred to the framing worker) after
   * what is in flight; call only when `canJoin`, or when not `busy`.
   */
  append(topic: string, partitions: readonly PartitionLog[], records: PackedRecords, timestampMs: number): Promise<void> {
    const prev = this.#tail
    const starts = prev?.ends ?? Promise.resolve(partitions.map((p) => p.endOffset))
    const framed = starts.then(async (base) => ({ base, shares: await framePacked(records, base, timestampMs) }))
    const ends = framed.then(({ base, shares }) => base.map((offset, p) => offset + (shares[p]?.starts.length ?? 0)))
    // Read by the next append, if any; a failure reaches the caller through `written`.
    ends.catch(() => {})
    const written = (async () => {
      const { shares } = await framed
      if (prev !== undefined && !(await prev.ok))
        throw new SourceError('SINK_UNAVAILABLE', `embedded log: not appended to ${topic}, a packed append before it failed`)
      const writes = await Promise.allSettled(
        shares.map((share, p) => share && (partitions[p] as PartitionLog).appendEncodedAsync(share.buf, share.starts)),
      )
      this.#onWritten()
      const failed = writes.find((w) => w.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    })()
    const ok = written.then(
      () => true,
      () => false,
    )
    const settled = Promise.all([prev?.settled, ok]).then(() => {
      if (this.#tail === entry) this.#tail = undefined
    })
    const entry: InFlight = { topic, ends, settled, ok }
    this.#tail = entry
    return written
  }
}
