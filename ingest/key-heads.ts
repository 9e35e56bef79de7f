/**
 * Entity key → the newest slot holding it, for the snapshot planner: an open-addressing table of
 * (hash, slot) pairs in one Int32Array, the keys themselves read from the planner's slot list.
 *
 * Why not a Map: a JS Map of a million fresh strings costs about a second to fill (its backing
 * store regrows and rehashes in the old generation); this table fills in a tenth of that, and its
 * probes compare a stored hash before touching a key string.
 *
 * A table exported by its primary key comes with its keys ascending: each key is then above every
 * earlier one, so new, and a comparison with the last key tells so without a probe into the table
 * (a cache miss per row at a million keys). The claimed slots wait in a list until a key comes out
 * of order; then they are indexed, in claim order, and the table takes over for good.
 */
import { withCapacity } from '../core/typed-arrays.ts'

const INITIAL_CAPACITY = 1 << 12
const EMPTY = -1

/** A 32-bit hash of the key's UTF-16 units (a multiply-xorshift finish spreads short keys). */
function hashOf(key: string): number {
  let h = 0
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b)
  return h ^ (h >>> 16)
}

export class KeyHeads {
  readonly #keyOf: readonly string[]
  readonly #expectedKeys: number
  /** Pairs [hash, slot]; slot −1 = empty. Capacity a power of two, at most half full. Allocated once keys leave ascending order. */
  #table: Int32Array | undefined
  #mask = 0
  #size = 0
  /** Where the last `lookup` ended: the key's pair, or the empty pair it would take. */
  #at = 0
  #hash = 0
  /**
   * The slots claimed while every claimed key was above the one before; undefined once the table
   * holds them. While it is defined, a `lookup` that returned found its key above every claimed one.
   */
  #ascending: Int32Array | undefined
  #ascendingCount = 0
  #lastKey = ''

  /**
   * `keyOf[slot]` is the key of a slot this index was given. `expectedKeys`: sized for that many
   * from the start (a million keys would otherwise regrow the table ten times, rehashing each).
   */
  constructor(keyOf: readonly string[], expectedKeys = 0) {
    this.#keyOf = keyOf
    this.#expectedKeys = expectedKeys
    this.#ascending = new Int32Array(Math.max(expectedKeys, 1024))
  }

  /** The newest slot of `key`, −1 when it has none; `claim` right after makes a new slot the newest. */
  lookup(key: string): number {
    if (this.#ascending !== undefined) {
      if (this.#ascendingCount === 0 || key > this.#lastKey) return EMPTY
      this.#indexAscending()
    }
    const hash = hashOf(key)
    const table = this.#table!
    const mask = this.#mask
    let p = hash & mask
    for (;;) {
      const slot = table[2 * p + 1]!
      if (slot === EMPTY || (table[2 * p] === hash && this.#keyOf[slot] === key)) {
        this.#at = p
        this.#hash = hash
        return slot
      }
      p = (p + 1) & mask
    }
  }

  /** `slot` (its key already in `keyOf`) is now the newest of the key of the last `lookup`. */
  claim(slot: number): void {
    let list = this.#ascending
    if (list !== undefined) {
      if (this.#ascendingCount === list.length) this.#ascending = list = withCapacity(list, 2 * list.length)
      list[this.#ascendingCount++] = slot
      this.#lastKey = this.#keyOf[slot]!
      return
    }
    const table = this.#table!
    const p = this.#at
    if (table[2 * p + 1] === EMPTY) this.#size++
    table[2 * p] = this.#hash
    table[2 * p + 1] = slot
    if (this.#size * 2 > this.#mask + 1) this.#grow()
  }

  /** The first key out of order: the slots claimed so far go into the table, as if each had been looked up and claimed in turn. */
  #indexAscending(): void {
    const list = this.#ascending!
    const count = this.#ascendingCount
    this.#ascending = undefined
    let capacity = INITIAL_CAPACITY
    while (capacity < 2 * Math.max(this.#expectedKeys, count + 1)) capacity *= 2
    this.#table = new Int32Array(2 * capacity).fill(EMPTY)
    this.#mask = capacity - 1
    for (let i = 0; i < count; i++) {
      this.lookup(this.#keyOf[list[i]!]!)
      this.claim(list[i]!)
    }
  }

  #grow(): void {
    const old = this.#table!
    const capacity = (this.#mask + 1) * 2
    const table = new Int32Array(2 * capacity).fill(EMPTY)
    const mask = capacity - 1
    for (let q = 0; q < old.length; q += 2) {
      if (old[q + 1] === EMPTY) continue
      let p = old[q]! & mask
      while (table[2 * p + 1] !== EMPTY) p = (p + 1) & mask
      table[2 * p] = old[q]!
      table[2 * p + 1] = old[q + 1]!
    }
    this.#table = table
    this.#mask = mask
  }
}
