/**
 * One view's offline rows between two checkpoints, as columns (ports/offline.ts
 * `OfflineRowColumns`). A row is copied in when it is emitted and its object is left to the
 * young-generation collector, which frees short-lived objects for almost nothing; kept as objects
 * for a whole checkpoint interval, every row (its object, values array, boxed doubles and origin,
 * ~400 bytes) survived two scavenges, was copied both times and then promoted.
 *
 * Numeric features (long, double) go into a Float64Array with a null flag per row — exact for
 * both, -0 and NaN included; other types keep their values in a plain array.
 */
import { SchemaError } from '../core/errors.ts'
import type { FeatureRow, FeatureValue, FeatureValueType, FeatureViewDef } from '../features/types.ts'
import type { OfflineRowColumns } from '../ports/offline.ts'
import { withCapacity } from '../core/typed-arrays.ts'

const FIRST_CAPACITY = 256

function isNumeric(type: FeatureValueType): boolean {
  return type === 'long' || type === 'double'
}

export class OfflineRowBuffer implements OfflineRowColumns {
  readonly #types: readonly FeatureValueType[]
  #length = 0
  #capacity: number
  readonly entityKeys: string[] = []
  readonly offsets: string[] = []
  #asOf: Float64Array
  #createdAt: Float64Array
  #rowIndexes: Float64Array
  #deleted: Uint8Array
  /** Per feature: its numbers (numeric features) or undefined. */
  readonly #numbers: (Float64Array | undefined)[]
  /** Per numeric feature: 1 where the value is null. */
  readonly #nulls: (Uint8Array | undefined)[]
  /** Per non-numeric feature: its values, or undefined. */
  readonly #others: (FeatureValue[] | undefined)[]

  constructor(types: readonly FeatureValueType[], capacity = FIRST_CAPACITY) {
    this.#types = types
    this.#capacity = capacity
    this.#asOf = new Float64Array(capacity)
    this.#createdAt = new Float64Array(capacity)
    this.#rowIndexes = new Float64Array(capacity)
    this.#deleted = new Uint8Array(capacity)
    this.#numbers = types.map((t) => (isNumeric(t) ? new Float64Array(capacity) : undefined))
    this.#nulls = types.map((t) => (isNumeric(t) ? new Uint8Array(capacity) : undefined))
    this.#others = types.map((t) => (isNumeric(t) ? undefined : []))
  }

  get length(): number {
    return this.#length
  }

  get asOfMs(): Float64Array {
    return this.#asOf.subarray(0, this.#length)
  }

  get createdAtMs(): Float64Array {
    return this.#createdAt.subarray(0, this.#length)
  }

  get rowIndexes(): Float64Array {
    return this.#rowIndexes.subarray(0, this.#length)
  }

  get deleted(): Uint8Array {
    return this.#deleted.subarray(0, this.#length)
  }

  /** Row `row`, stamped `createdAtMs`, emitted as the `rowIndex`-th row at `offset` (its archive position, RowOrigin). */
  push(row: FeatureRow, createdAtMs: number, offset: string, rowIndex: number): void {
    const values = row.values
    const numbers = this.#numbers
    if (values.length !== numbers.length)
      throw new SchemaError('SCHEMA_INCOMPATIBLE', 'feature row has the wrong number of values')
    const i = this.#length
    if (i === this.#capacity) this.#grow(i * 2)
    // Numeric values first, into the slot past the end: a value of the wrong type leaves the buffer as it was.
    for (let f = 0; f < numbers.length; f++) {
      const column = numbers[f]
      if (column === undefined) continue
      const v = values[f] ?? null
      if (v === null) {
        this.#nulls[f]![i] = 1
        column[i] = 0
      } else if (typeof v === 'number') {
        this.#nulls[f]![i] = 0
        column[i] = v
      } else throw new SchemaError('SCHEMA_INCOMPATIBLE', `feature ${f} (${this.#types[f]}) holds a ${typeof v}`)
    }
    for (let f = 0; f < numbers.length; f++) if (numbers[f] === undefined) this.#others[f]!.push(values[f] ?? null)
    this.entityKeys.push(row.entityKey)
    this.offsets.push(offset)
    this.#asOf[i] = row.asOfMs
    this.#createdAt[i] = createdAtMs
    this.#rowIndexes[i] = rowIndex
    this.#deleted[i] = row.deleted === true ? 1 : 0
    this.#length = i + 1
  }

  featureColumn(f: number): readonly FeatureValue[] | Float64Array {
    const others = this.#others[f]
    if (others !== undefined) return others
    const numbers = this.#numbers[f]!
    const nulls = this.#nulls[f]!
    if (nulls.subarray(0, this.#length).indexOf(1) < 0) return numbers.subarray(0, this.#length)
    const out = new Array<FeatureValue>(this.#length)
    for (let i = 0; i < out.length; i++) out[i] = nulls[i] === 1 ? null : numbers[i]!
    return out
  }

  /** Empties the buffer, keeping its arrays for the next rows (a checkpoint's buffer, once its rows are written). */
  clear(): void {
    this.#length = 0
    this.entityKeys.length = 0
    this.offsets.length = 0
    for (const others of this.#others) if (others !== undefined) others.length = 0
  }

  /** True when `types` are this buffer's feature types (a buffer is reused only for the view it was made for). */
  holds(types: readonly FeatureValueType[]): boolean {
    return types.length === this.#types.length && types.every((t, f) => t === this.#types[f])
  }

  /** This buffer's rows followed by `later`'s, in a new buffer (a failed checkpoint's rows go back in front). */
  concat(later: OfflineRowBuffer): OfflineRowBuffer {
    const n = this.#length + later.#length
    const out = new OfflineRowBuffer(this.#types, Math.max(FIRST_CAPACITY, n))
    for (const part of [this, later]) {
      const at = out.#length
      const k = part.#length
      for (let i = 0; i < k; i++) {
        out.entityKeys.push(part.entityKeys[i]!)
        out.offsets.push(part.offsets[i]!)
      }
      out.#asOf.set(part.asOfMs, at)
      out.#createdAt.set(part.createdAtMs, at)
      out.#rowIndexes.set(part.rowIndexes, at)
      out.#deleted.set(part.deleted, at)
      for (let f = 0; f < this.#types.length; f++) {
        const others = out.#others[f]
        if (others !== undefined) for (const v of part.#others[f]!) others.push(v)
        else {
          out.#numbers[f]!.set(part.#numbers[f]!.subarray(0, k), at)
          out.#nulls[f]!.set(part.#nulls[f]!.subarray(0, k), at)
        }
      }
      out.#length = at + k
    }
    return out
  }

  /** The rows after the first `n`, in a new buffer (a cut whose first rows a published record already names). */
  withoutFirst(n: number): OfflineRowBuffer {
    if (n === 0) return this
    const end = this.#length
    const out = new OfflineRowBuffer(this.#types, Math.max(FIRST_CAPACITY, end - n))
    for (let i = n; i < end; i++) {
      out.entityKeys.push(this.entityKeys[i]!)
      out.offsets.push(this.offsets[i]!)
    }
    out.#asOf.set(this.#asOf.subarray(n, end))
    out.#createdAt.set(this.#createdAt.subarray(n, end))
    out.#rowIndexes.set(this.#rowIndexes.subarray(n, end))
    out.#deleted.set(this.#deleted.subarray(n, end))
    for (let f = 0; f < this.#types.length; f++) {
      const others = out.#others[f]
      if (others !== undefined) for (const v of this.#others[f]!.slice(n, end)) others.push(v)
      else {
        out.#numbers[f]!.set(this.#numbers[f]!.subarray(n, end))
        out.#nulls[f]!.set(this.#nulls[f]!.subarray(n, end))
      }
    }
    out.#length = end - n
    return out
  }

  #grow(capacity: number): void {
    this.#asOf = withCapacity(this.#asOf, capacity)
    this.#createdAt = withCapacity(this.#createdAt, capacity)
    this.#rowIndexes = withCapacity(this.#rowIndexes, capacity)
    this.#deleted = withCapacity(this.#deleted, capacity)
    for (let f = 0; f < this.#numbers.length; f++) {
      const numbers = this.#numbers[f]
      if (numbers === undefined) continue
      this.#numbers[f] = withCapacity(numbers, capacity)
      this.#nulls[f] = withCapacity(this.#nulls[f]!, capacity)
    }
    this.#capacity = capacity
  }
}

/** An empty row buffer per view: the spare of the same view when it has one (a view without offline rows keeps its buffer empty). */
export function rowBuffersFor(
  views: readonly FeatureViewDef[],
  spares: readonly (OfflineRowBuffer | undefined)[] = [],
): OfflineRowBuffer[] {
  return views.map((view, v) => {
    const types = view.features.map((f) => f.type)
    const spare = spares[v]
    return spare !== undefined && spare.length === 0 && spare.holds(types) ? spare : new OfflineRowBuffer(types)
  })
}
