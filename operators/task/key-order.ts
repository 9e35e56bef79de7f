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

/** A code unit ≥ U+D800: the keys whose UTF-16 and UTF-8 orders can disagree. */
const WIDE_UNIT = /[\uD800-\uFFFF]/

/**
 * Sorts `keys` in place by their UTF-8 bytes. Without any unit ≥ U+D800 (nearly always) the two
 * orders agree and the engine's own comparator-free sort does it, about twice as fast as a JS
 * comparator on hundreds of thousands of keys (a snapshot sorts every key of its state).
 * `mayHoldWideUnits` false: the caller knows no key holds such a unit (a key table's
 * `hasHighKeys`), and the scan that would find out is skipped — a checkpoint's cut sorts its
 * keys with the event loop stopped, and the scan cost up to a few ms of a loaded cut.
 */
export function sortKeysByBytes(keys: string[], mayHoldWideUnits = true): string[] {
  return mayHoldWideUnits && keys.some((k) => WIDE_UNIT.test(k)) ? keys.sort(compareKeyBytes) : keys.sort()
}
