/**
 * A response body serialised by its handler: `text` is what `JSON.stringify` writes for the body's
 * object form, except that a feature value's negative zero keeps its sign (`-0.0`,
 * core/feature-json.ts). The feature endpoints build theirs by hand so that a stored number's text
 * goes into the response without being decoded and printed again (OnlineRead.valueJson).
 */
import { featureValueJson } from '../core/feature-json.ts'
import type { FeatureValue } from '../features/types.ts'
import type { OnlineRead } from '../ports/online-store.ts'

export class JsonBody {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** `valueJson(read.values[i] ?? null)`, from the stored text when the store kept it. */
export function readValueJson(read: OnlineRead, i: number): string {
  return read.valueJson !== undefined ? read.valueJson(i) : valueJson(read.values[i] ?? null)
}

/** A value as JSON.stringify writes it inside an array (undefined is null), -0 as `-0.0`. */
export function valueJson(value: FeatureValue | boolean | undefined): string {
  return featureValueJson(value)
}
