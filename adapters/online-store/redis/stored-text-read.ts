/**
 * A PRESENT read of a row stored as text (the layout of value-codec.ts, shared by the Redis hash
 * and the embedded store): the texts are kept, `values` decodes them on first use, and `valueJson`
 * writes one value's JSON straight from its text. The serving endpoints only serialise what they
 * read, so on their path no value is decoded at all (value-codec.ts says why that is exact).
 */
import type { FeatureValue, FeatureValueType } from '../../../features/types.ts'
import { StoredRowUnreadable, type OnlineRead } from '../../../ports/online-store.ts'
import { decodeValue, storedValueJson } from './value-codec.ts'

export class StoredTextRead implements OnlineRead {
  readonly status = 'PRESENT' as const
  readonly asOfMs: number
  readonly #texts: readonly (string | null | undefined)[]
  /** Index in `#texts` of the first value (a reply may lead with `@as_of` and `@deleted`). */
  readonly #first: number
  readonly #types: readonly FeatureValueType[]
  /** Where the row lies, for the error a text that does not decode throws: the view, and the requested features' names. */
  readonly #where: { readonly view: string; readonly features: readonly string[] } | undefined
  #values: FeatureValue[] | undefined

  /** `types[i]` is the declared type of the i-th requested feature, whose text is `texts[first + i]`. */
  constructor(
    asOfMs: number,
    texts: readonly (string | null | undefined)[],
    first: number,
    types: readonly FeatureValueType[],
    where?: { readonly view: string; readonly features: readonly string[] },
  ) {
    this.asOfMs = asOfMs
    this.#texts = texts
    this.#first = first
    this.#types = types
    this.#where = where
  }

  get values(): readonly FeatureValue[] {
    if (this.#values === undefined) {
      const types = this.#types
      const values = new Array<FeatureValue>(types.length)
      for (let i = 0; i < types.length; i++) {
        try {
          values[i] = decodeValue(this.#texts[this.#first + i], types[i]!)
        } catch (err: unknown) {
          throw this.#located(i, err)
        }
      }
      this.#values = values
    }
    return this.#values
  }

  valueJson(i: number): string {
    const type = this.#types[i]
    if (type === undefined) return 'null'
    // Serving's per-value path: a plain try, no closure a value.
    try {
      return storedValueJson(this.#texts[this.#first + i], type)
    } catch (err: unknown) {
      throw this.#located(i, err)
    }
  }

  /** `err` from decoding the i-th value; a StoredRowUnreadable made to name the view and the feature. */
  #located(i: number, err: unknown): unknown {
    if (!(err instanceof StoredRowUnreadable) || this.#where === undefined) return err
    const { view, features } = this.#where
    return new StoredRowUnreadable('corrupt', `view ${view}, feature ${features[i]}: ${err.message}`, {
      view,
      feature: features[i],
      cause: err,
    })
  }
}
