/**
 * The line of the embedded log's packed appends (EmbeddedEventLog.producePacked): each one's
 * records framed (./packed-records.ts) and written (PartitionLog.appendEncodedAsync, its fsync off the
 * thread), one after another, in the order asked.
 *
 * A packed append asked right after another of the same topic (no other append asked between)
 * is framed at once, numbered after the one still being written — so the framing of chunk k+1
 * overlaps the write and fsync of chunk k, which the caller would otherwise sit idle through —
 * and written once that one is, only if it was written whole: a caller that appends a sorted list
 * chunk by chunk (`kfs ingest`) still leaves every partition a prefix of its share when a write
 * fails. Any other packed append waits for the appends before it, then frames from the
 * partitions' ends (as every other append does). Buffers already written are framed into again
 * while appends follow one another (`#spares`).
 */
import { InvariantViolation, SourceError } from '../../../core/errors.ts'
import type { PackedRecords } from '../../../ports/event-log.ts'
import { encodePackedByPartition, type PartitionShare } from './packed-records.ts'
import type { PartitionLog } from './partition-log.ts'

/** Spare partition buffers kept at most (a few chunks' worth of partitions). */
const MAX_SPARES = 16

/** What the line needs of a partition's log. */
export type PackedTarget = Pick<PartitionLog, 'endOffset' | 'appendEncodedAsync'>

interface PackedAppend {
  readonly topic: string
  /** Its place among every append asked of the log (PackedAppendLine.asked). */
  readonly asked: number
  /** Each partition's end offset once it is written; undefined until it is framed. */
  ends: readonly number[] | undefined
  failed: boolean
  settled: boolean
}

export class PackedAppendLine {
  /** Settles (never rejects) once every packed append asked so far has; undefined when none is in flight. */
  inFlight: Promise<void> | undefined
  /** Appends (and closes) asked of the log so far: every other append bumps it before it waits for `inFlight`. */
  asked = 0
  #last: PackedAppend | undefined
  /**
   * Partition buffers already written, framed into again while appends follow one another: a new
   * ~14 MB of external memory per 100,000-record chunk set off V8's full collections (external
   * memory pressure), each marking the caller's whole heap.
   */
  readonly #spares: Buffer[] = []

  /**
   * Frames and writes `records` to `partitions` in line; resolves once written (and fsynced),
   * rejects if a write failed or the packed append still in flight when this one was asked did.
   * `checkOpen` runs once the appends asked before are written; `written` once this one settles.
   */
  async append(
    topic: string,
    partitions: readonly PackedTarget[],
    records: PackedRecords,
    timestampMs: number,
    checkOpen: () => void,
    written: () => void,
  ): Promise<void> {
    const earlier = this.#last
    const behind = earlier !== undefined && !earlier.settled ? earlier : undefined
    const mine: PackedAppend = { topic, asked: ++this.asked, ends: undefined, failed: false, settled: false }
    this.#last = mine
    const before = this.inFlight
    if (
      before !== undefined &&
      behind !== undefined &&
      behind.asked === mine.asked - 1 &&
      behind.topic === topic &&
      behind.ends !== undefined
    ) {
      const ahead = framed(mine, records, behind.ends, timestampMs, this.#spares)
      return this.#track(
        mine,
        before.then(() => writeAfter(behind, partitions, ahead, this.#spares)),
        written,
      )
    }
    // No await between the last check and #track: the appends asked after this one stay after it.
    while (this.inFlight) await this.inFlight
    checkOpen()
    const shares = framed(
      mine,
      records,
      partitions.map((p) => p.endOffset),
      timestampMs,
      this.#spares,
    )
    return this.#track(mine, writeAfter(behind, partitions, shares, this.#spares), written)
  }

  /** `writing` as the packed writes every other append waits for; marks `mine` failed if it rejects. */
  async #track(mine: PackedAppend, writing: Promise<void>, written: () => void): Promise<void> {
    const marked = writing.then(
      () => {
        mine.settled = true
      },
      (err: unknown) => {
        mine.failed = mine.settled = true
        throw err
      },
    )
    // Settles after `mine.failed` is set, so the append behind it sees the outcome.
    const settled: Promise<void> = marked.then(
      () => this.#settled(settled),
      () => this.#settled(settled),
    )
    this.inFlight = settled
    try {
      await marked
    } finally {
      written()
    }
  }

  #settled(settled: Promise<void>): void {
    if (this.inFlight !== settled) return
    this.inFlight = undefined
    // Idle: a caller appending chunk after chunk has its next one asked by now, so the spares are not kept for nothing.
    this.#spares.length = 0
  }
}

interface Framed {
  readonly baseOffsets: readonly number[]
  readonly shares: readonly (PartitionShare | undefined)[]
}

function framed(
  mine: PackedAppend,
  records: PackedRecords,
  baseOffsets: readonly number[],
  timestampMs: number,
  spares: Buffer[],
): Framed {
  const shares = encodePackedByPartition(records, baseOffsets, timestampMs, spares)
  mine.ends = baseOffsets.map((base, p) => base + (shares[p]?.starts.length ?? 0))
  return { baseOffsets, shares }
}

/** Writes the framed shares if `earlier` (the packed append in flight when this one was asked, settled by now) was written whole. */
async function writeAfter(
  earlier: PackedAppend | undefined,
  partitions: readonly PackedTarget[],
  { baseOffsets, shares }: Framed,
  spares: Buffer[],
): Promise<void> {
  if (earlier?.failed === true)
    throw new SourceError(
      'SOURCE_UNAVAILABLE',
      `packed append to topic '${earlier.topic}' not written: the one asked before it failed`,
    )
  // Framed ahead, numbered from the ends the append before was to leave: the partitions must end there.
  if (partitions.some((p, i) => p.endOffset !== baseOffsets[i]))
    throw new InvariantViolation('an embedded log partition moved while a packed append was framed')
  const writes = shares.map((share, p) => share && partitions[p]!.appendEncodedAsync(share.buf, share.starts))
  // Each share's bytes are in the file once its append is asked (only the fsync is left): its buffer is free.
  for (const share of shares) if (share !== undefined && spares.length < MAX_SPARES) spares.push(share.room)
  const results = await Promise.allSettled(writes)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}
