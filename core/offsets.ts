/**
 * A log offset (a canonical decimal string) as a number while it is exact — up to 15 digits, far
 * beyond any real Kafka offset —, else as a bigint. Either is the same int64: `<` compares a number
 * with a bigint exactly, and a Parquet `long` column stores both alike. It spares a BigInt per
 * record (parsing one and its garbage were a visible part of the per-record path).
 */
export function offsetValue(offset: string): number | bigint {
  if (offset.length === 0 || offset.length > 15) return BigInt(offset)
  for (let i = 0; i < offset.length; i++) {
    const c = offset.charCodeAt(i)
    if (c < 48 || c > 57) return BigInt(offset)
  }
  return Number(offset)
}

/** The offset after `offset` (offsetValue's form). */
export function nextOffsetValue(offset: number | bigint): number | bigint {
  return typeof offset === 'number' ? (offset + 1 <= Number.MAX_SAFE_INTEGER ? offset + 1 : BigInt(offset) + 1n) : offset + 1n
}

/**
 * The records at or past `from` (offsetValue's form), in their order: `records` itself when all
 * are — a batch re-delivered in part is rare, and a copy of every batch was garbage per record.
 */
export function atOrPast<T extends { readonly offset: string }>(records: readonly T[], from: number | bigint): readonly T[] {
  for (let i = 0; i < records.length; i++) {
    if (offsetValue(records[i]!.offset) < from) return records.filter((r) => offsetValue(r.offset) >= from)
  }
  return records
}
