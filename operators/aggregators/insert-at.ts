/**
 * Returns a copy of `items` with `item` inserted at `index`, allocated at its exact length.
 * V8 grows a pushed-to array by ~1.5×+16 slots; for the many tiny per-tile arrays that slack
 * would dominate per-key memory, so small sorted arrays are rebuilt instead (they stay short).
 */
export function insertAt<T>(items: readonly T[], index: number, item: T): T[] {
  const out = new Array<T>(items.length + 1)
  for (let i = 0; i < index; i++) out[i] = items[i] as T
  out[index] = item
  for (let i = index; i < items.length; i++) out[i + 1] = items[i] as T
  return out
}
