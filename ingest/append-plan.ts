/**
 * Appends a snapshot plan's change envelopes to the source's log, chunk after chunk, each chunk
 * awaited before the next (./ingest-snapshot.ts says why the order matters for crash safety).
 *
 * The envelopes are assembled from the rows' bytes written ahead (./row-images.ts) into one buffer
 * per chunk, the next chunk while the log appends the last one (schemas/change-envelope-writer.ts: the Encoder's bytes, without an envelope object,
 * an avsc call or a buffer per record) and handed to the log packed (`producePacked`; a log
 * without it gets the same records through `produce`). An envelope schema the writer does not
 * know takes the Encoder, envelope by envelope.
 */
import { unpackRecords, type EventLog, type PackedRecords, type ProduceRecord } from '../ports/event-log.ts'
import type { Encoder } from '../schemas/encoder.ts'
import { AvroSink } from '../schemas/avro-sink.ts'
import type { ChangeEnvelopeWriter } from '../schemas/change-envelope-writer.ts'
import type { PlannedAppends } from './plan-snapshot.ts'
import { SLOT_ENTRIES, type RowImages } from './row-images.ts'

const NO_COLUMNS: readonly ArrayLike<unknown>[] = []

export interface AppendTarget {
  readonly log: EventLog
  readonly topic: string
  readonly encoder: Encoder
  /** The plan's rows already written: envelopes are assembled from their bytes. Undefined (an envelope schema the writer does not know): the Encoder encodes. */
  readonly images: RowImages | undefined
  readonly chunkRecords: number
  readonly onChunk: (appended: number) => void
}

export async function appendPlan(target: AppendTarget, plan: PlannedAppends): Promise<void> {
  const { log, topic, images, chunkRecords } = target
  const total = plan.length
  if (images === undefined) {
    for (let from = 0; from < total; from += chunkRecords) {
      const to = Math.min(total, from + chunkRecords)
      await log.produce(topic, encodedChunk(target.encoder, plan, from, to))
      target.onChunk(to)
    }
    return
  }
  // Chunk k+1 is assembled while the log writes chunk k (the embedded log writes off this thread),
  // and produced only once chunk k is appended: the order, and so the crash safety, is unchanged.
  // Two sinks in turn, so chunk k's bytes stay as they are while k+1 is assembled.
  const sinks = [new AvroSink(), new AvroSink()]
  let inFlight: { done: Promise<void>; to: number } | undefined
  for (let from = 0, k = 0; from < total; from += chunkRecords, k++) {
    const to = Math.min(total, from + chunkRecords)
    const packed = assembledChunk(images, sinks[k % 2]!, plan, from, to)
    if (inFlight !== undefined) {
      await inFlight.done
      target.onChunk(inFlight.to)
    }
    inFlight = { done: log.producePacked !== undefined ? log.producePacked(topic, packed) : log.produce(topic, unpackRecords(packed)).then(() => {}), to }
  }
  if (inFlight !== undefined) {
    await inFlight.done
    target.onChunk(inFlight.to)
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

/**
 * [from, to) of the plan as keys and framed envelopes back to back (the sink is reused), each
 * envelope assembled from its rows' bytes (./row-images.ts): head, the before image (none, a
 * row's bytes, or the log's row written anew), the after image's bytes, tail. An envelope with a
 * part only avsc's wide type takes is written whole instead, as the Encoder would.
 */
function assembledChunk(images: RowImages, sink: AvroSink, plan: PlannedAppends, from: number, to: number): PackedRecords {
  const { slots, ts, snapshotId } = plan
  const writer = images.writer
  const chunks = images.chunks
  const layout = images.layout
  const parts = envelopeParts(writer, snapshotId)
  const count = to - from
  const bounds = new Uint32Array(2 * count + 1)
  sink.reset()
  for (let i = 0; i < count; i++) {
    const position = from + i
    const slot = slots[position]!
    const at = SLOT_ENTRIES * slot
    const rows = chunks[layout[at]! >>> 1]!
    let whole = (layout[at]! & 1) === 1
    const imageStart = layout[at + 2]!
    sink.writeFrom(rows, layout[at + 1]!, imageStart)
    const start = sink.pos
    bounds[2 * i + 1] = start
    const before = plan.beforeAt(position)
    sink.sawWide = false
    if (before === undefined) sink.writeFrom(parts.create, 0, parts.create.length)
    else if (typeof before !== 'number') {
      writer.writeHead(sink, 'u')
      writer.writeImage(sink, NO_COLUMNS, before)
      sink.writeByte(writer.imageBranch)
    } else {
      const b = SLOT_ENTRIES * before
      whole ||= (layout[b]! & 1) === 1
      sink.writeFrom(parts.update, 0, parts.update.length)
      sink.writeFrom(chunks[layout[b]! >>> 1]!, layout[b + 2]!, layout[b + 3]!)
      sink.writeByte(writer.imageBranch)
    }
    // The after image and ts_ms, written together ahead.
    sink.writeFrom(rows, imageStart, layout[at + 4]!)
    sink.writeFrom(parts.snapshot, 0, parts.snapshot.length)
    if (whole || sink.sawWide) {
      sink.pos = start
      const op = before === undefined ? 'c' : 'u'
      writer.write(
        sink,
        op,
        NO_COLUMNS,
        typeof before === 'number' ? plan.rowAt(before) : (before ?? null),
        plan.rowAt(slot),
        ts[slot]!,
        snapshotId,
      )
    }
    bounds[2 * i + 2] = sink.pos
  }
  return { count, bytes: sink.written(), bounds }
}

/**
 * The constant runs of an envelope's bytes, written once: a create's head up to its after image
 * (frame, op "c", no before image, the after image's branch), an update's up to its before image,
 * and the snapshot field that follows ts_ms.
 */
function envelopeParts(writer: ChangeEnvelopeWriter, snapshotId: string): { create: Buffer; update: Buffer; snapshot: Buffer } {
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
  return { create, update, snapshot }
}
