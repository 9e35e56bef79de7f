/**
 * Appends a snapshot plan's change envelopes to the source's log, chunk after chunk, each chunk
 * awaited before the next (./ingest-snapshot.ts says why the order matters for crash safety).
 *
 * The envelopes are encoded straight from the planner's columns into one buffer per chunk
 * (schemas/change-envelope-writer.ts: the Encoder's bytes, without an envelope object, an avsc
 * call or a buffer per record) and handed to the log packed (`producePacked`; a log without it
 * gets the same records through `produce`). An envelope schema the writer does not know takes
 * the Encoder, envelope by envelope.
 */
import { unpackRecords, type EventLog, type PackedRecords, type ProduceRecord } from '../ports/event-log.ts'
import type { Encoder } from '../schemas/encoder.ts'
import { AvroSink } from '../schemas/avro-sink.ts'
import type { ChangeEnvelopeWriter } from '../schemas/change-envelope-writer.ts'
import type { PlannedAppends } from './plan-snapshot.ts'

export interface AppendTarget {
  readonly log: EventLog
  readonly topic: string
  readonly encoder: Encoder
  /** Undefined: the envelope schema is not one the writer knows; the Encoder encodes. */
  readonly writer: ChangeEnvelopeWriter | undefined
  readonly chunkRecords: number
  readonly onChunk: (appended: number) => void
}

export async function appendPlan(target: AppendTarget, plan: PlannedAppends): Promise<void> {
  const { log, topic, writer, chunkRecords } = target
  const sink = new AvroSink()
  const total = plan.length
  for (let from = 0; from < total; from += chunkRecords) {
    const to = Math.min(total, from + chunkRecords)
    if (writer === undefined) await log.produce(topic, encodedChunk(target.encoder, plan, from, to))
    else {
      const packed = packedChunk(writer, sink, plan, from, to)
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

/** Appends [from, to) of the plan as key and framed envelope bytes, back to back (the sink is reused). */
function packedChunk(
  writer: ChangeEnvelopeWriter,
  sink: AvroSink,
  plan: PlannedAppends,
  from: number,
  to: number,
): PackedRecords {
  const { slots, keys, ts, values, snapshotId } = plan
  const count = to - from
  const bounds = new Uint32Array(2 * count + 1)
  sink.reset()
  for (let i = 0; i < count; i++) {
    const position = from + i
    const slot = slots[position]!
    sink.writeUtf8(keys[slot]!)
    bounds[2 * i + 1] = sink.pos
    const before = plan.beforeAt(position)
    writer.write(sink, before === undefined ? 'c' : 'u', values, before ?? null, slot, ts[slot]!, snapshotId)
    bounds[2 * i + 2] = sink.pos
  }
  return { count, bytes: sink.written(), bounds }
}
