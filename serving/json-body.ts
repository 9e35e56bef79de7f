/**
 * A response body serialised by its handler: `text` is exactly what `JSON.stringify` writes for the
 * body's object form. The feature endpoints build theirs by hand so that a stored number's text goes
 * into the response without being decoded and printed again (OnlineRead.valueJson).
 */
import type { FeatureValue } from '../features/types.ts'
import type { OnlineRead } from '../ports/online-store.ts'

export class JsonBody {
  constructor(readonly text: string) {}
}

/** `JSON.stringify(read.values[i] ?? null)`, from the stored text when the store kept it. */
export function readValueJson(read: OnlineRead, i: number): string {
  return read.valueJson !== undefined ? read.valueJson(i) : valueJson(read.values[i] ?? null)
}

/** A value as JSON.stringify writes it inside an array (where nothing is left out: undefined is null). */
export function valueJson(value: FeatureValue | boolean | undefined): string {
  return JSON.stringify(value) ?? 'null'
}
