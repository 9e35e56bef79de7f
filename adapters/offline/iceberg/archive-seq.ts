import type { RowOrigin } from '../../../ports/offline.ts'

/**
 * Archive order of a feature row as one long: offset · 2^21 + the row's index among the rows
 * emitted at that offset (markers' rows first, then the record's; RowOrigin.seq). Rows of one
 * entity always come from one partition, so this orders any entity's rows. The index saturates at
 * 2^21 − 1: past two million rows at one offset, rows share a position, but one entity's rows there
 * still differ in as_of (a key emits at most one row per boundary).
 */
export function archiveSeqOf(origin: RowOrigin): bigint | number {
  return archiveSeq(origin.offset, origin.seq)
}

/** `archiveSeqOf` of the row with index `rowIndex` at `offset`. */
export function archiveSeq(offset: string, rowIndex: number): bigint | number {
  const index = Math.min(rowIndex, 0x1fffff)
  // The same long either way; a number while it is exact (offsets below 2^32), which is the
  // common case and spares three BigInts a row.
  const value = Number(offset)
  if (value < 0x100000000) return value * 0x200000 + index
  return (BigInt(offset) << 21n) + BigInt(index)
}
