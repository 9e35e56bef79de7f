/** Shared encoding of a `number | null` accumulator: u8 presence flag, then f64. */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'

export function encodeOptionalNumber(acc: number | null, w: ByteWriter): void {
  if (acc === null) {
    w.u8(0)
  } else {
    w.u8(1)
    w.f64(acc)
  }
}

export function decodeOptionalNumber(r: ByteReader): number | null {
  return r.u8() === 0 ? null : r.f64()
}
