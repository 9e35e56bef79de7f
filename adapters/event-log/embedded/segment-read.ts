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
  /** The descriptor of the segment taking appends; undefined for a sealed one, whose descriptor is the log's SegmentHandles' (./segment-handles.ts). */
  fd: number | undefined
  /** The file's inode when its descriptor was last opened (./segment-handles.ts). */
  ino?: number
  /** Its file was replaced since (another inode): the index points into the old bytes, to be rebuilt before a read. */
  replaced?: boolean
  size: number
  /** Offsets it spans: from its base to its last record's (its records, unless compacted). */
  count: number
  /** Compacted (./compaction.ts), or may be: its offsets only increase, with gaps where records were removed. */
  gaps: boolean
  index: SparseIndex
  /** The index file while the segment takes appends (none read-only, none once rolled past). */
  indexFile: IndexFile | undefined
  /** Where the last read ended: a consumer's next read starts there without skipping from an entry. */
  next: { offset: number; position: number } | undefined
}

/**
 * Up to `maxRecords` of the segment's records (read through its open descriptor `fd`) from `fromOffset` on (from the first kept after it,
 * in a compacted segment), staying within `maxBytes`;
 * the byte position where the bytes the index (or the last read) points at do not read as them.
 */
export function readRecords(
  segment: Segment,
  fd: number,
  fromOffset: number,
  maxRecords: number,
  maxBytes: number,
): StoredRecord[] | number {
  // Before the first entry only in a compacted segment whose first records were removed: from its start.
  const entry = segment.index.floor(fromOffset - segment.baseOffset)
  let at = entry < 0 ? segment.baseOffset : segment.baseOffset + segment.index.relativeAt(entry)
  let position = entry < 0 ? 0 : segment.index.positionAt(entry)
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
    window = readAt(fd, pos, Math.min(segment.size - pos, Math.max(length, guess)))
    windowStart = pos
    return window.length >= length
  }
  // Skipped by their length and offset fields alone (the records returned are checked whole).
  for (;;) {
    if (!have(position, 16)) return position
    const offset = window.readUInt32BE(position - windowStart + 8) * 2 ** 32 + window.readUInt32BE(position - windowStart + 12)
    if (offset < at || (offset > at && !segment.gaps)) return position
    if (offset >= fromOffset) break
    at = offset + 1
    position += 8 + window.readUInt32BE(position - windowStart)
  }
  const out: StoredRecord[] = []
  let bytes = 0
  let expected = fromOffset
  while (out.length < want && position < segment.size) {
    if (!have(position, 8)) return position
    const total = 8 + window.readUInt32BE(position - windowStart)
    // A length running past the segment is damage, to be named now rather than left for the next read.
    if (position + total > segment.size) return position
    if (out.length > 0 && bytes + total > maxBytes) break
    if (!have(position, total)) return position
    const decoded = decodeRecord(window, position - windowStart)
    const offset = typeof decoded === 'string' ? -1 : decoded.record.offset
    if (typeof decoded === 'string' || offset < expected || (offset > expected && !segment.gaps)) return position
    expected = offset + 1
    out.push(decoded.record)
    bytes += total
    position += total
  }
  segment.next = { offset: expected, position }
  return out
}
