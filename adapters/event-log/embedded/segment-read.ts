/**
 * One segment of a partition (./partition-log.ts) as it is read: a read starts at the sparse
 * index's entry at or before its offset (./sparse-index.ts), or where the last read ended, skips
 * the records before its offset by their length prefixes, and checks every record it returns
 * (length, CRC, offset): a record that does not read is never returned, nor skipped.
 */
import { readAt } from './segment-scan.ts'
import { decodeRecord, type StoredRecord } from './record-format.ts'
import { INDEX_INTERVAL_BYTES, type IndexFile, type SparseIndex } from './sparse-index.ts'

export interface Segment {
  readonly path: string
  readonly baseOffset: number
  readonly fd: number
  size: number
  /** Records it holds. */
  count: number
  index: SparseIndex
  /** The index file while the segment takes appends (none read-only, none once rolled past). */
  indexFile: IndexFile | undefined
  /** Where the last read ended: a consumer's next read starts there without skipping from an entry. */
  next: { offset: number; position: number } | undefined
}

/**
 * Up to `maxRecords` of the segment's records from `fromOffset` on, staying within `maxBytes`;
 * the byte position where the bytes the index (or the last read) points at do not read as them.
 */
export function readRecords(segment: Segment, fromOffset: number, maxRecords: number, maxBytes: number): StoredRecord[] | number {
  const entry = segment.index.floor(fromOffset - segment.baseOffset)
  if (entry < 0) return 0
  let at = segment.baseOffset + segment.index.relativeAt(entry)
  let position = segment.index.positionAt(entry)
  const last = segment.next
  if (last !== undefined && last.offset <= fromOffset && last.offset > at) ({ offset: at, position } = last)
  const want = Math.min(maxRecords, segment.baseOffset + segment.count - fromOffset)
  // What the read will likely take, from the segment's mean record size: one read for most batches.
  const mean = segment.size / Math.max(1, segment.count)
  const guess =
    Math.min(maxBytes, 8 * 1024 * 1024, Math.ceil(mean * want * 1.25) + 1024) + (at < fromOffset ? 2 * INDEX_INTERVAL_BYTES : 0)
  let window: Buffer = Buffer.alloc(0)
  let windowStart = 0
  const have = (pos: number, length: number): boolean => {
    if (pos + length > segment.size) return false
    if (pos >= windowStart && pos + length <= windowStart + window.length) return true
    window = readAt(segment.fd, pos, Math.min(segment.size - pos, Math.max(length, guess)))
    windowStart = pos
    return window.length >= length
  }
  for (; at < fromOffset; at++) {
    if (!have(position, 4)) return position
    position += 8 + window.readUInt32BE(position - windowStart)
  }
  const out: StoredRecord[] = []
  let bytes = 0
  while (out.length < want) {
    if (!have(position, 8)) return position
    const total = 8 + window.readUInt32BE(position - windowStart)
    // A length running past the segment is damage, to be named now rather than left for the next read.
    if (position + total > segment.size) return position
    if (out.length > 0 && bytes + total > maxBytes) break
    if (!have(position, total)) return position
    const decoded = decodeRecord(window, position - windowStart)
    if (typeof decoded === 'string' || decoded.record.offset !== fromOffset + out.length) return position
    out.push(decoded.record)
    bytes += total
    position += total
  }
  segment.next = { offset: fromOffset + out.length, position }
  return out
}
