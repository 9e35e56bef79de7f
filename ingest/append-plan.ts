/**
 * Appends a snapshot plan's change envelopes to the source's log, chunk after chunk, each chunk
 * awaited before the next (./ingest-snapshot.ts says why the order matters for crash safety).
 *
 * The envelopes are assembled from the rows' bytes written ahead (./row-images.ts), the next chunk
 * while the log appends the last one (schemas/change-envelope-writer.ts: the Encoder's bytes,
 * without an envelope object, an avsc call or a buffer per record), and handed to the log packed
 * as runs of those bytes (`producePacked`, which copies them once, into its records; a log
 * without it gets the same records through `produce`). An envelope schema the writer does not
 * know takes the Encoder, envelope by envelope.
 */
import { PACKED_RUN_FIELDS, unpackRecords, type PackedRecords, type ProduceRecord } from '../ports/event-log.ts'
import type { Encoder } from '../schemas/encoder.ts'
import { AvroSink } from '../schemas/avro-sink.ts'
import type { ChangeEnvelopeWriter } from '../schemas/change-envelope-writer.ts'
import type { Appends } from './append-lease.ts'
import type { PlannedAppends } from './plan-snapshot.ts'
import { SLOT_ENTRIES, type RowImages } from './row-images.ts'

const NO_COLUMNS: readonly ArrayLike<unknown>[] = []

export interface AppendTarget {
  /** The log's appends under the source's lease (./append-lease.ts). */
  readonly log: Appends
  readonly topic: string
  readonly encoder: Encoder
  /** The plan's rows already written: envelopes are assembled from their bytes. Undefined (an envelope schema the writer does not know): the Encoder encodes. */
  readonly images: RowImages | undefined
  readonly chunkRecords: number
  readonly onChunk: (appended: number) => void
  /** Asked before each chunk is appended: throws to stop there (a stop signal), chunks before it appended whole. */
  readonly beforeChunk?: (appended: number) => void
}

export async function appendPlan(target: AppendTarget, plan: PlannedAppends): Promise<void> {
  const { log, topic, images, chunkRecords } = target
  const total = plan.length
  if (images === undefined) {
    for (let from = 0; from < total; from += chunkRecords) {
      target.beforeChunk?.(from)
      const to = Math.min(total, from + chunkRecords)
      await log.produce(topic, encodedChunk(target.encoder, plan, from, to))
      target.onChunk(to)
    }
    return
  }
  // Chunk k+1 is assembled — and, by a log with producePacked, framed — while the log writes
  // chunk k. Without producePacked it is produced only once chunk k is appended; with it, asked
  // at once: the log writes it after chunk k and only if chunk k was written whole
  // (ports/event-log.ts). Either way the order, and so the crash safety, is unchanged. Two sinks
  // in turn, so chunk k's bytes stay as they are while k+1 is assembled.
  const sinks = [new AvroSink(), new AvroSink()]
  // The runs' arrays in turn with the sinks, reused (zeroed): a new one per chunk was ~7 MB of
  // external memory, which with the log's buffers set off V8's full collections.
  const runArrays: Uint32Array[] = []
  let inFlight: { done: Promise<void>; to: number } | undefined
  let asked: Promise<void> | undefined
  try {
    for (let from = 0, k = 0; from < total; from += chunkRecords, k++) {
      target.beforeChunk?.(from)
      const to = Math.min(total, from + chunkRecords)
      const needed = PACKED_RUN_FIELDS * RUNS * (to - from)
      let runs = runArrays[k % 2]
      if (runs === undefined || runs.length < needed) runs = runArrays[k % 2] = new Uint32Array(needed)
      else runs.fill(0, 0, needed)
      const packed = assembledChunk(images, sinks[k % 2]!, runs.subarray(0, needed), plan, from, to)
      asked = undefined
      if (log.producePacked !== undefined) {
        asked = log.producePacked(topic, packed)
        // Awaited below, after chunk k's outcome (which is reported first if both fail).
        asked.catch(() => {})
      }
      if (inFlight !== undefined) {
        await inFlight.done
        target.onChunk(inFlight.to)
      }
      inFlight = { done: asked ?? log.produce(topic, unpackRecords(packed)).then(() => {}), to }
    }
    if (inFlight !== undefined) {
      await inFlight.done
      target.onChunk(inFlight.to)
    }
  } catch (err: unknown) {
    // Return only once every append already asked has settled: chunk k+1 when chunk k failed, and
    // chunk k when assembling k+1 threw. A caller told the ingest failed must not find its appends
    // still landing — a retry in the same process read the log without them, then appended them
    // again (doubled, out of order).
    await Promise.allSettled([inFlight?.done, asked])
    throw err
  }
}

function encodedChunk(encoder: Encoder, plan: PlannedAppends, from: number, to: number): ProduceRecord[] {
  const records = new Array<ProduceRecord>(to - from)
  for (let i = from; i < to; i++) {
    const a = plan.at(i)
    records[i - from] = { key: a.key, value: encoder.encode(a.envelope) }
  }
  return records
}

/** Runs per record: key, head, before image, its branch byte, after image + ts_ms, snapshot field. */
const RUNS = 6
const KEY_RUN = 0
const HEAD_RUN = 1
const BEFORE_RUN = 2
const BRANCH_RUN = 3
const AFTER_RUN = 4
const SNAPSHOT_RUN = 5
/** Indexes into the chunk's `sources`: the constant parts, the sink, then the row images' chunks. */
const CREATE = 0
const UPDATE = 1
const BRANCH = 2
const SNAPSHOT = 3
const SINK = 4
const FIRST_CHUNK = 5

/**
 * [from, to) of the plan as runs of bytes where they already are (ports/event-log.ts
 * `PackedRecords`): the key and the after image (with ts_ms) from the rows' bytes
 * (./row-images.ts), the head, the before image (none, or an earlier row's bytes) and the
 * snapshot field — the log lays them out in one copy. An envelope whose before image is a row of
 * the log is written into the sink (reused), as is one with a part only avsc's wide type takes,
 * written whole as the Encoder would.
 */
function assembledChunk(images: RowImages, sink: AvroSink, runs: Uint32Array, plan: PlannedAppends, from: number, to: number): PackedRecords {
  const { slots, ts, snapshotId } = plan
  const writer = images.writer
  const chunks = images.chunks
  const layout = images.layout
  const parts = envelopeParts(writer, snapshotId)
  const count = to - from
  // Empty runs are all zeros (`runs` comes zeroed): only the used ones are written.
  sink.reset()
  for (let i = 0; i < count; i++) {
    const position = from + i
    const slot = slots[position]!
    const at = SLOT_ENTRIES * slot
    const chunk = layout[at]! >>> 1
    let whole = (layout[at]! & 1) === 1
    const imageStart = layout[at + 2]!
    const imageEnd = layout[at + 4]!
    const r = PACKED_RUN_FIELDS * RUNS * i
    setRun(runs, r, KEY_RUN, FIRST_CHUNK + chunk, layout[at + 1]!, imageStart)
    const before = plan.beforeAt(position)
    if (typeof before === 'number') whole ||= (layout[SLOT_ENTRIES * before]! & 1) === 1
    if (!whole && typeof before !== 'object') {
      if (before === undefined) setRun(runs, r, HEAD_RUN, CREATE, 0, parts.create.length)
      else {
        const b = SLOT_ENTRIES * before
        setRun(runs, r, HEAD_RUN, UPDATE, 0, parts.update.length)
        setRun(runs, r, BEFORE_RUN, FIRST_CHUNK + (layout[b]! >>> 1), layout[b + 2]!, layout[b + 3]!)
        setRun(runs, r, BRANCH_RUN, BRANCH, 0, 1)
      }
      setRun(runs, r, AFTER_RUN, FIRST_CHUNK + chunk, imageStart, imageEnd)
      setRun(runs, r, SNAPSHOT_RUN, SNAPSHOT, 0, parts.snapshot.length)
      continue
    }
    const start = sink.pos
    sink.sawWide = false
    if (!whole && typeof before === 'object') {
      // The log's row as the before image, then the after image and ts_ms as written ahead.
      writer.writeHead(sink, 'u')
      writer.writeImage(sink, NO_COLUMNS, before)
      sink.writeByte(writer.imageBranch)
      sink.writeFrom(chunks[chunk]!, imageStart, imageEnd)
      sink.writeFrom(parts.snapshot, 0, parts.snapshot.length)
    }
    if (whole || sink.sawWide) {
      sink.pos = start
      writer.write(
        sink,
        before === undefined ? 'c' : 'u',
        NO_COLUMNS,
        typeof before === 'number' ? plan.rowAt(before) : (before ?? null),
        plan.rowAt(slot),
        ts[slot]!,
        snapshotId,
      )
    }
    setRun(runs, r, HEAD_RUN, SINK, start, sink.pos)
  }
  // The sink's buffer as it ends (a regrowth keeps what was written, at the same positions).
  const sources: Uint8Array[] = [parts.create, parts.update, parts.branch, parts.snapshot, sink.buf, ...chunks]
  return { count, sources, runsPerRecord: RUNS, runs }
}

/** Run `j` of the record whose runs start at `r`: `end − start` bytes of source `source` from `start`. */
function setRun(runs: Uint32Array, r: number, j: number, source: number, start: number, end: number): void {
  const k = r + PACKED_RUN_FIELDS * j
  runs[k] = source
  runs[k + 1] = start
  runs[k + 2] = end
}

/**
 * The constant runs of an envelope's bytes, written once: a create's head up to its after image
 * (frame, op "c", no before image, the after image's branch), an update's up to its before image,
 * the branch byte of the after image that follows it, and the snapshot field that follows ts_ms.
 */
function envelopeParts(writer: ChangeEnvelopeWriter, snapshotId: string): { create: Buffer; update: Buffer; branch: Buffer; snapshot: Buffer } {
  const sink = new AvroSink(256)
  writer.writeHead(sink, 'c')
  sink.writeByte(writer.noImage)
  sink.writeByte(writer.imageBranch)
  const create = Buffer.from(sink.written())
  sink.reset()
  writer.writeHead(sink, 'u')
  sink.writeByte(writer.imageBranch)
  const update = Buffer.from(sink.written())
  // The tail of an envelope at ts_ms 0 — one varint byte — minus that byte: the snapshot field.
  sink.reset()
  writer.writeTail(sink, 0, snapshotId)
  const snapshot = Buffer.from(sink.written().subarray(1))
  return { create, update, branch: Buffer.from([writer.imageBranch]), snapshot }
}
