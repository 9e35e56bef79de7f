/**
 * One partition's archive rows between two checkpoints, as columns (ports/offline.ts
 * `ArchiveRowColumns`), for the reason engine/offline-row-buffer.ts gives: a row object, and the
 * key and payload views it held (which kept the Kafka client's fetched buffers alive), would live
 * for a whole checkpoint interval. Here a record's key and payload bytes are copied into one
 * growing byte array and the record is left to the young-generation collector.
 */
import type { ArchiveRow, ArchiveRowColumns } from '../ports/offline.ts'
import { withCapacity } from '../core/typed-arrays.ts'

const FIRST_CAPACITY = 256
const FIRST_BYTES = 16 * 1024

/** Where a null key or payload "starts". */
const ABSENT = -1

export class ArchiveRowBuffer implements ArchiveRowColumns {
  readonly partition: number
  readonly offsets: string[] = []
  #length = 0
  #capacity = FIRST_CAPACITY
  #eventTime: Float64Array = new Float64Array(FIRST_CAPACITY)
  #schemaId: Float64Array = new Float64Array(FIRST_CAPACITY)
  #marker: Float64Array = new Float64Array(FIRST_CAPACITY)
  #timestamp: Float64Array = new Float64Array(FIRST_CAPACITY)
  /** Per row: key start, key end, payload start, payload end in `#bytes` (start ABSENT: null). */
  #spans: Int32Array = new Int32Array(4 * FIRST_CAPACITY)
  #bytes: Uint8Array = new Uint8Array(FIRST_BYTES)
  #used = 0

  constructor(partition: number) {
    this.partition = partition
  }

  get length(): number {
    return this.#length
  }

  get eventTimeMs(): Float64Array {
    return this.#eventTime.subarray(0, this.#length)
  }

  get schemaIds(): Float64Array {
    return this.#schemaId.subarray(0, this.#length)
  }

  get markerWatermarkMs(): Float64Array {
    return this.#marker.subarray(0, this.#length)
  }

  get timestampMs(): Float64Array {
    return this.#timestamp.subarray(0, this.#length)
  }

  push(row: ArchiveRow): void {
    if (row.partition !== this.partition)
      throw new RangeError(`an archive row of partition ${row.partition} in the buffer of partition ${this.partition}`)
    this.#append(row.offset, row.eventTimeMs ?? Number.NaN, row.key, row.schemaId ?? Number.NaN, row.payload, row.markerWatermarkMs ?? Number.NaN, row.timestampMs)
  }

  /**
   * The row of a record as read (not a marker), from its fields: what `push` of that row stores,
   * without an ArchiveRow object per record (archive-rows.ts `archiveRecords`). NaN: null.
   */
  pushRecord(offset: string, eventTimeMs: number, key: Uint8Array | null, schemaId: number, payload: Uint8Array | null, timestampMs: number): void {
    this.#append(offset, eventTimeMs, key, schemaId, payload, Number.NaN, timestampMs)
  }

  #append(offset: string, eventTimeMs: number, key: Uint8Array | null, schemaId: number, payload: Uint8Array | null, markerWatermarkMs: number, timestampMs: number): void {
    const i = this.#length
    if (i === this.#capacity) this.#grow(i * 2)
    this.offsets.push(offset)
    this.#eventTime[i] = eventTimeMs
    this.#schemaId[i] = schemaId
    this.#marker[i] = markerWatermarkMs
    this.#timestamp[i] = timestampMs
    this.#copy(4 * i, key)
    this.#copy(4 * i + 2, payload)
    this.#length = i + 1
  }

  key(i: number): Uint8Array | null {
    return this.#bytesAt(4 * i)
  }

  payload(i: number): Uint8Array | null {
    return this.#bytesAt(4 * i + 2)
  }

  /** Empties the buffer, keeping its arrays (see OfflineRowBuffer#clear). */
  clear(): void {
    this.#length = 0
    this.#used = 0
    this.offsets.length = 0
  }

  /** This buffer's rows followed by `later`'s, in a new buffer (a failed checkpoint's rows go back in front). */
  concat(later: ArchiveRowBuffer): ArchiveRowBuffer {
    const out = new ArchiveRowBuffer(this.partition)
    for (const part of [this, later]) for (let i = 0; i < part.length; i++) out.push(part.rowAt(i))
    return out
  }

  /** The rows after the first `n`, in a new buffer (a cut whose first rows a published record already names). */
  withoutFirst(n: number): ArchiveRowBuffer {
    if (n === 0) return this
    const out = new ArchiveRowBuffer(this.partition)
    for (let i = n; i < this.length; i++) out.push(this.rowAt(i))
    return out
  }

  /** Row `i` as an object (what a failed checkpoint's rows are re-read as; staging reads the columns). */
  rowAt(i: number): ArchiveRow {
    const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x)
    return {
      partition: this.partition,
      offset: this.offsets[i]!,
      eventTimeMs: orNull(this.#eventTime[i]!),
      key: this.key(i),
      schemaId: orNull(this.#schemaId[i]!),
      payload: this.payload(i),
      markerWatermarkMs: orNull(this.#marker[i]!),
      timestampMs: this.#timestamp[i]!,
    }
  }

  #bytesAt(at: number): Uint8Array | null {
    const start = this.#spans[at]!
    return start === ABSENT ? null : this.#bytes.subarray(start, this.#spans[at + 1])
  }

  #copy(at: number, bytes: Uint8Array | null): void {
    if (bytes === null) {
      this.#spans[at] = ABSENT
      return
    }
    const start = this.#used
    const end = start + bytes.length
    if (end > this.#bytes.length) this.#bytes = withCapacity(this.#bytes, Math.max(2 * this.#bytes.length, end))
    this.#bytes.set(bytes, start)
    this.#spans[at] = start
    this.#spans[at + 1] = end
    this.#used = end
  }

  #grow(capacity: number): void {
    this.#eventTime = withCapacity(this.#eventTime, capacity)
    this.#schemaId = withCapacity(this.#schemaId, capacity)
    this.#marker = withCapacity(this.#marker, capacity)
    this.#timestamp = withCapacity(this.#timestamp, capacity)
    this.#spans = withCapacity(this.#spans, 4 * capacity)
    this.#capacity = capacity
  }
}
