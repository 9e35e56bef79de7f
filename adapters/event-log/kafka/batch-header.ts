/**
 * Where a compressed record batch sits in the log, read back from the bytes kafkajs hands a codec.
 *
 * kafkajs calls a codec with the compressed records only; but that Buffer is a view into the Fetch
 * answer, right after the batch's 61-byte v2 header (first offset, length, …, attributes, last
 * offset delta, …, record count). The header is taken as the batch's only when it checks out:
 * magic 2, the codec's attribute bits, and a length that ends exactly where the records end.
 * Otherwise the offsets are unknown (undefined), never guessed.
 */
export interface BatchOffsets {
  readonly first: string
  readonly last: string
}

const HEADER_BYTES = 61
/** The batch length counts the bytes after itself: the header from the leader epoch on, then the records. */
const HEADER_AFTER_LENGTH = HEADER_BYTES - 12

export function batchOffsetsOf(records: Buffer, codecId: number): BatchOffsets | undefined {
  if (records.byteOffset < HEADER_BYTES) return undefined
  const header = Buffer.from(records.buffer, records.byteOffset - HEADER_BYTES, HEADER_BYTES)
  const length = header.readInt32BE(8)
  const magic = header.readInt8(16)
  const attributes = header.readInt16BE(21)
  if (magic !== 2 || (attributes & 0x07) !== codecId || length !== HEADER_AFTER_LENGTH + records.length) return undefined
  const first = header.readBigInt64BE(0)
  return { first: first.toString(), last: (first + BigInt(header.readInt32BE(23))).toString() }
}
