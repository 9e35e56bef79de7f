/**
 * The snapshot planner's slots (./plan-snapshot.ts): one per row that may be appended, numbered in
 * snapshot order. A slot's key, event time and same-key chain live in flat (typed) arrays; its
 * column values stay where the reader put them — the batch's own column arrays, with the batch
 * row of each slot — so a million rows cost no copy of a million values per column (nor the GC's
 * bookkeeping of old arrays pointing at young values).
 */
import { KeyHeads } from './key-heads.ts'
import { withCapacity } from '../core/typed-arrays.ts'

/** Slots [start, start + count) are the rows `rows[0..count)` of one batch's declared columns. */
export interface SlotChunk {
  readonly start: number
  readonly columns: readonly ArrayLike<unknown>[]
  readonly rows: Int32Array
  count: number
}

const INITIAL_SLOTS = 1024

export class PlannerSlots {
  readonly keys: string[] = []
  /** Slot → the newest slot of its key before it (−1: none); and 1 when its key has other slots. */
  #ts = new Float64Array(INITIAL_SLOTS)
  #sameKey = new Int32Array(INITIAL_SLOTS)
  #shared = new Uint8Array(INITIAL_SLOTS)
  readonly heads: KeyHeads
  readonly chunks: SlotChunk[] = []

  /** `expectedSlots`: room for that many from the start (the snapshot's row count, when known). */
  constructor(expectedSlots = 0) {
    this.heads = new KeyHeads(this.keys, expectedSlots)
    this.#reserve(expectedSlots)
  }

  get count(): number {
    return this.keys.length
  }

  /** Event time of each slot (a view: re-read it after adding slots). */
  get ts(): Float64Array {
    return this.#ts.subarray(0, this.keys.length)
  }

  sameKey(slot: number): number {
    return this.#sameKey[slot]!
  }

  timeOf(slot: number): number {
    return this.#ts[slot]!
  }

  isShared(slot: number): boolean {
    return this.#shared[slot] === 1
  }

  /** The next rows' columns: a batch of up to `rows` rows. */
  beginBatch(columns: readonly ArrayLike<unknown>[], rows: number): void {
    this.#reserve(this.keys.length + rows)
    this.chunks.push({ start: this.keys.length, columns, rows: new Int32Array(rows), count: 0 })
  }

  /** A new slot for row `row` of the current batch; `head` is its key's newest slot so far (−1: none). */
  add(key: string, t: number, head: number, row: number): number {
    const slot = this.keys.length
    this.keys.push(key)
    this.#ts[slot] = t
    this.#sameKey[slot] = head
    this.#shared[slot] = head < 0 ? 0 : 1
    if (head >= 0) this.#shared[head] = 1
    const chunk = this.chunks[this.chunks.length - 1]!
    chunk.rows[chunk.count++] = row
    this.heads.claim(slot)
    return slot
  }

  /** Declared column c's value in `slot` (null for none). */
  valueAt(c: number, slot: number): unknown {
    const chunk = this.chunkOf(slot)
    return chunk.columns[c]![chunk.rows[slot - chunk.start]!] ?? null
  }

  chunkOf(slot: number): SlotChunk {
    const chunks = this.chunks
    let lo = 0
    let hi = chunks.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (chunks[mid]!.start <= slot) lo = mid
      else hi = mid - 1
    }
    return chunks[lo]!
  }

  #reserve(slots: number): void {
    if (slots <= this.#ts.length) return
    const size = Math.max(slots, 2 * this.#ts.length)
    this.#ts = withCapacity(this.#ts, size)
    this.#sameKey = withCapacity(this.#sameKey, size)
    this.#shared = withCapacity(this.#shared, size)
  }
}
