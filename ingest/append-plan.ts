/**
 * Appends a snapshot plan's change envelopes to the source's log, chunk after chunk, each chunk
 * awaited before the next (./ingest-snapshot.ts says why the order matters for crash safety).
 *
 * The envelopes are assembled from the rows' bytes written ahead (./row-images.ts) into one buffer
 * per chunk (schemas/change-envelope-writer.ts: the Encoder's bytes, without an envelope object,
 * an avsc call or a buffer per record) and handed to the log packed (`producePacked`; a log
 * without it gets the same records through `produce`). An envelope schema the writer does not
 * know takes the Encoder, envelope by envelope.
 */
import { unpackRecords, type EventLog, type PackedRecords, type ProduceRecord } from '../ports/event-log.ts'
import type { Encoder } from '../schemas/encoder.ts'
import { AvroSink } from '../schemas/avro-sink.ts'
import type { PlannedAppends } from './plan-snapshot.ts'
import type { RowImages } from './row-images.ts'

const NO_COLUMNS: readonly (readonly unknown[])[] = []

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
  const sink = new AvroSink()
  const total = plan.length
  for (let from = 0; from < total; from += chunkRecords) {
    const to = Math.min(total, from + chunkRecords)
    if (images === undefined) await log.produce(topic, encodedChunk(target.encoder, plan, from, to))
    else {
      const packed = assembledChunk(images, sink, plan, from, to)
      if (log.producePacked !== undefined) await log.producePacked(topic, packed)
      else await log.produce(topic, unpackRecords(packed))
    }
    target.onChunk(to)
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
  const chunkOf = images.chunkOf
  const at = images.bounds
  const count = to - from
  const bounds = new Uint32Array(2 * count + 1)
  sink.reset()
  for (let i = 0; i < count; i++) {
    const position = from + i
    const slot = slots[position]!
    const rows = chunks[chunkOf[slot]!]!
    sink.writeFrom(rows, at[3 * slot]!, at[3 * slot + 1]!)
    const start = sink.pos
    bounds[2 * i + 1] = start
    const before = plan.beforeAt(position)
    const op = before === undefined ? 'c' : 'u'
    sink.sawWide = false
    writer.writeHead(sink, op)
    let whole = images.isWide(slot)
    if (before === undefined) sink.writeByte(writer.noImage)
    else if (typeof before !== 'number') writer.writeImage(sink, NO_COLUMNS, before)
    else {
      whole ||= images.isWide(before)
      sink.writeByte(writer.imageBranch)
      sink.writeFrom(chunks[chunkOf[before]!]!, at[3 * before + 1]!, at[3 * before + 2]!)
    }
    sink.writeByte(writer.imageBranch)
    sink.writeFrom(rows, at[3 * slot + 1]!, at[3 * slot + 2]!)
    writer.writeTail(sink, ts[slot]!, snapshotId)
    if (whole || sink.sawWide) {
      sink.pos = start
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
