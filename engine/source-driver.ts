/**
 * The one loop that runs a bounded source's partition (ports/source.ts) through the engine: record
 * batches into `processRecords`, idle markers into `processMarker`, in the source's order. Backfill,
 * verify-parity's replay and the live engine's archive catch-up all drain partitions with it; the
 * live engine feeds the same slots from an unbounded source's batches (live-engine.ts), so nothing
 * below `PartitionInput` knows whether it runs live or replays.
 */
import type { SourceChunk, SourceRecord } from '../ports/source.ts'

/** What a partition is drained into: a PartitionSlot (every view), or one view's processor (catch-up). */
export interface PartitionInput<Out extends { readonly records: number }> {
  /** The next position expected: records and markers before it were applied already. */
  readonly nextOffset: string
  processRecords(records: readonly SourceRecord[], createdAtMs: number): Promise<Out>
  processMarker(watermarkMs: number, createdAtMs: number): Out
}

export interface DrainOptions<Out> {
  /** Stamps `created_at` on the rows (replay passes a constant; it is not compared). */
  readonly createdAtMs: () => number
  /** Every batch's and marker's output, in order. */
  readonly onOutput?: (output: Out) => Promise<void> | void
  /** After each record batch and its output (e.g. checkpoint once enough is buffered). */
  readonly afterRecords?: () => Promise<void>
}

export interface Drained {
  /** Records applied (those before the input's position are skipped, not counted). */
  readonly records: number
  readonly markers: number
}

export async function drainPartition<Out extends { readonly records: number }>(
  input: PartitionInput<Out>,
  chunks: AsyncIterable<SourceChunk>,
  options: DrainOptions<Out>,
): Promise<Drained> {
  let records = 0
  let markers = 0
  for await (const chunk of chunks) {
    if (chunk.kind === 'records') {
      const out = await input.processRecords(chunk.records, options.createdAtMs())
      records += out.records
      await options.onOutput?.(out)
      if (options.afterRecords) await options.afterRecords()
      continue
    }
    // A marker at position p was applied when p was the next position to read: one before the
    // input's position was applied before it (as records before it were).
    if (BigInt(chunk.offset) < BigInt(input.nextOffset)) continue
    const out = input.processMarker(chunk.watermarkMs, options.createdAtMs())
    markers++
    await options.onOutput?.(out)
  }
  return { records, markers }
}
