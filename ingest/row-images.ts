/**
 * Each planned row's message key (UTF-8) and Avro image (the row's fields as a change envelope
 * carries them), written slot after slot while the snapshot is read — while its batch is fresh in
 * memory and in snapshot order. Appends are made in (event time, key) order, which visits the
 * rows at random: assembling an envelope then copies two short byte runs per row instead of
 * encoding values scattered over the heap (schemas/change-envelope-writer.ts: head, images, tail).
 */
import { AvroSink } from '../schemas/avro-sink.ts'
import type { ChangeEnvelopeWriter } from '../schemas/change-envelope-writer.ts'
import type { SlotChunk } from './planner-slots.ts'

/** Rows are written into chunks of about this size (a chunk regrows only for a longer row). */
const DEFAULT_CHUNK_BYTES = 4 << 20

export class RowImages {
  readonly writer: ChangeEnvelopeWriter
  /** Sealed chunks, then the one being written. Chunks, not one regrowing buffer: no copy of what was written. */
  readonly #chunks: Buffer[] = []
  readonly #chunkBytes: number
  #sink: AvroSink
  /** Slot s: key bytes [bounds[3s], bounds[3s+1]), image bytes [bounds[3s+1], bounds[3s+2]) of chunk chunkOf[s]. */
  #bounds = new Float64Array(3 * 1024)
  #chunkOf = new Uint32Array(1024)
  /** 1 for a slot whose row holds a value only avsc's wide type takes: its envelopes are written whole. */
  #wide = new Uint8Array(1024)
  #count = 0

  constructor(writer: ChangeEnvelopeWriter, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.writer = writer
    this.#chunkBytes = chunkBytes
    this.#sink = new AvroSink(chunkBytes + (chunkBytes >> 2))
  }

  /** Slots encoded so far. */
  get count(): number {
    return this.#count
  }

  /** The chunk holding slot s's bytes is chunks[chunkOf[s]] (valid once every slot asked for is encoded). */
  get chunks(): readonly Buffer[] {
    return [...this.#chunks, this.#sink.buf]
  }

  get chunkOf(): Uint32Array {
    return this.#chunkOf
  }

  get bounds(): Float64Array {
    return this.#bounds
  }

  isWide(slot: number): boolean {
    return this.#wide[slot] === 1
  }

  /**
   * Encodes the slots of `chunks` (the planner's) not encoded yet, or of them only those `among`
   * (done once, at the end: the rest are never asked for); slot s's key is `keys[s]`.
   */
  encode(keys: readonly string[], chunks: readonly SlotChunk[], among?: Int32Array): void {
    this.#reserve(keys.length)
    let wanted: Uint8Array | undefined
    if (among !== undefined) {
      wanted = new Uint8Array(keys.length)
      for (let i = 0; i < among.length; i++) wanted[among[i]!] = 1
    }
    const bounds = this.#bounds
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
        this.#chunkOf[slot] = chunk
        bounds[3 * slot] = sink.pos
        sink.writeUtf8(keys[slot]!)
        bounds[3 * slot + 1] = sink.pos
        sink.sawWide = false
        writer.writeRow(sink, columns, rows[i]!)
        this.#wide[slot] = sink.sawWide ? 1 : 0
        bounds[3 * slot + 2] = sink.pos
      }
    }
    this.#count = keys.length
  }

  #reserve(slots: number): void {
    if (slots <= this.#wide.length) return
    const size = Math.max(slots, 2 * this.#wide.length)
    const bounds = new Float64Array(3 * size)
    bounds.set(this.#bounds)
    this.#bounds = bounds
    const chunkOf = new Uint32Array(size)
    chunkOf.set(this.#chunkOf)
    this.#chunkOf = chunkOf
    const wide = new Uint8Array(size)
    wide.set(this.#wide)
    this.#wide = wide
  }
}
