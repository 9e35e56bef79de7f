/**
 * Entity keys are ordered by their UTF-8 bytes (docs/design.md §2: "keys ordered by key bytes"). UTF-8
 * byte order is code point order; JS `<` compares UTF-16 code units, which disagrees only when
 * a surrogate (U+D800–DFFF) meets a unit in U+E000–FFFF, so those two ranges are swapped.
 */
export function compareKeyBytes(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000
      }
      return x - y
    }
  }
  return a.length - b.length
}

/** `compareKeyBytes` for keys without any UTF-16 unit ≥ U+D800, where both orders agree. */
export function compareKeysNative(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
