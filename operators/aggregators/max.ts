/** max of finite numbers; empty → null. Accumulator: null (u8 0) or the maximum (u8 1, f64). */
import { isFiniteNumber, type Aggregator } from './types.ts'
import { decodeOptionalNumber, encodeOptionalNumber } from './optional-number.ts'

export const max: Aggregator<number | null> = {
  op: 'max',
  invertible: false,
  accEncoding: 'u8 present, f64 max if present',
  accepts: isFiniteNumber,
  init: () => null,
  add: (acc, value) => (acc === null || (value as number) > acc ? (value as number) : acc),
  merge: (into, from) => (from === null ? into : into === null || from > into ? from : into),
  finish: (acc) => acc,
  foldTiles: (tiles, lo, at) => {
    let m: number | null = null
    for (let i = lo; i < tiles.length; i++) {
      const v = (tiles[i] as readonly unknown[])[at] as number | null
      if (v !== null && (m === null || v > m)) m = v
    }
    return m
  },
  isEmpty: (acc) => acc === null,
  encode: encodeOptionalNumber,
  decode: decodeOptionalNumber,
}
