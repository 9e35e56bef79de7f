/**
 * Each planned row's message key (UTF-8), Avro image (the row's fields as a change envelope
 * carries them) and ts_ms (its event time as the envelope's varint), written slot after slot while
 * the snapshot is read — while its batch is fresh in memory, in snapshot order. Appends are made
 * in (event time, key) order, which visits the rows at random: assembling an envelope then copies
 * a few byte runs of one place per row (./append-plan.ts) instead of encoding values scattered
 * over the heap (schemas/change-envelope-writer.ts: head, images, tail).
 */
import { AvroSink } from '../schemas/avro-sink.ts'
import type { ChangeEnvelopeWriter } from '../schemas/change-envelope-writer.ts'
import type { SlotChunk } from './planner-slots.ts'

/** Rows are written into chunks of about this size (a chunk regrows only for a longer row). */
export const DEFAULT_CHUNK_BYTES = 4 << 20
/** Entries per slot in `layout`. */
export const SLOT_ENTRIES = 5

export class RowImages {
  readonly writer: ChangeEnvelopeWriter
  /** Sealed chunks, then the one being written. Chunks, not one regrowing buffer: no copy of what was written. */
  readonly #chunks: Buffer[] = []
  readonly #chunkBytes: number
  #sink: AvroSink
  /**
   * Slot s at 5s: its chunk × 2 + 1 when its row holds a value only avsc's wide type takes (its
   * envelopes are then written whole), then where in that chunk its key, image and ts_ms start and
   * where its ts_ms ends — one place per slot, one cache line for the assembly to fetch.
   */
  #layout = new Uint32Array(SLOT_ENTRIES * 1024)
  #count = 0

  /** `expectedSlots`: the layout sized for that many from the start (the snapshot's row count, when known). */
  constructor(writer: ChangeEnvelopeWriter, chunkBytes = DEFAULT_CHUNK_BYTES, expectedSlots = 0) {
    this.writer = writer
    this.#chunkBytes = chunkBytes
    this.#sink = new AvroSink(chunkBytes + (chunkBytes >> 2))
    this.#reserve(expectedSlots)
  }

  /** The chunks slots' bytes are in (complete once every slot asked for is encoded). */
  get chunks(): readonly Buffer[] {
    return [...this.#chunks, this.#sink.buf]
  }

  /** See #layout: slot s's entries start at SLOT_ENTRIES × s. */
  get layout(): Uint32Array {
    return this.#layout
  }

  /**
   * Encodes the slots of `chunks` (the planner's) not encoded yet, or of them only those `among`
   * (done once, at the end: the rest are never asked for); slot s's key is `keys[s]`, its event
   * time `ts[s]`.
   */
  encode(keys: readonly string[], ts: ArrayLike<number>, chunks: readonly SlotChunk[], among?: Int32Array): void {
    this.#reserve(keys.length)
    let wanted: Uint8Array | undefined
    if (among !== undefined) {
      wanted = new Uint8Array(keys.length)
      for (let i = 0; i < among.length; i++) wanted[among[i]!] = 1
    }
    const layout = this.#layout
    const writer = this.writer
    let sink = this.#sink
    let chunk = this.#chunks.length
    for (const { start, columns, rows, count } of chunks) {
      for (let i = Math.max(0, this.#count - start); i < count; i++) {
        const slot = start + i
        if (wanted !== undefined && wanted[slot] === 0) continue
        if (sink.pos >= this.#chunkBytes) {
          this.#chunks.push(sink.buf)
          sink = this.#sink = new AvroSink(this.#chunkBytes + (this.#chunkBytes >> 2))
          chunk++
        }
        const at = SLOT_ENTRIES * slot
        layout[at + 1] = sink.pos
        sink.writeUtf8(keys[slot]!)
        layout[at + 2] = sink.pos
        sink.sawWide = false
        writer.writeRow(sink, columns, rows[i]!)
        layout[at + 3] = sink.pos
        sink.writeLong(ts[slot]!)
        layout[at + 4] = sink.pos
        layout[at] = chunk * 2 + (sink.sawWide ? 1 : 0)
      }
    }
    this.#count = keys.length
  }

  #reserve(slots: number): void {
    if (SLOT_ENTRIES * slots <= this.#layout.length) return
    const layout = new Uint32Array(Math.max(SLOT_ENTRIES * slots, 2 * this.#layout.length))
    layout.set(this.#layout)
    this.#layout = layout
  }
}
