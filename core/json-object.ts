/**
 * An object as JSON.parse makes one — not null, not an array, not an instance of a class (such as
 * the LossyNumber that an exact number parse puts where a literal would lose digits). One test
 * for every reader of JSON kfs did not write itself or wrote earlier and reads back.
 */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}
