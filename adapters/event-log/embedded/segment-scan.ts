/**
 * Reading a segment's records for what opening it needs (./partition-log.ts): how many read whole
 * from its start and where they end, with its sparse index (./sparse-index.ts). Only the bytes
 * after the index's last entry are scanned, each record checked whole (length, CRC, offset); the
 * records the index covers were checked when they were appended or first scanned.
 */
import { fstatSync, readSync } from 'node:fs'
import { recordBounds } from './record-format.ts'
import { indexPathFor, readIndexFile, SparseIndex } from './sparse-index.ts'

export interface ScannedSegment {
  readonly index: SparseIndex
  /** Records that read, from the segment's first on, up to the end asked for. */
  readonly count: number
  /** Where they end: the start of the first that does not read, or of the end asked for. */
  readonly size: number
  /** Bytes in the file. */
  readonly fileBytes: number
  /** Entries of the index file kept in place (0 once the index is rebuilt from the data). */
  readonly fileEntries: number
  /** The index file's header reads. */
  readonly headerOk: boolean
  /** The index file holds the index as it is now, and nothing else: nothing to write. */
  readonly upToDate: boolean
}

/**
 * The segment at `path` (open as `fd`, its first record `baseOffset`) with its index file, up to
 * offset `stopAt` (Infinity: every record). An index whose last entry does not land on the
 * record it names (stale, pointing past the data, from another segment) is dropped and the index
 * rebuilt from the segment's start.
 */
export function scanSegment(fd: number, path: string, baseOffset: number, stopAt: number, gaps: boolean): ScannedSegment {
  const fileBytes = fstatSync(fd).size
  const file = readIndexFile(indexPathFor(path), fileBytes)
  // Read-only beside the writer, entries past the end it may read point at records not its to read.
  if (stopAt !== Infinity) file.index.truncate(file.index.floor(stopAt - 1 - baseOffset) + 1)
  const fileEntries = file.index.length
  const fromIndex = scanFrom(fd, file.index, baseOffset, fileBytes, stopAt, gaps)
  if (fromIndex !== undefined)
    return {
      ...fromIndex,
      fileBytes,
      fileEntries,
      headerOk: file.headerOk,
      upToDate: file.exact && fromIndex.index.length === fileEntries,
    }
  const index = new SparseIndex()
  return {
    ...(scanFrom(fd, index, baseOffset, fileBytes, stopAt, gaps) as { index: SparseIndex; count: number; size: number }),
    fileBytes,
    fileEntries: 0,
    headerOk: file.headerOk,
    upToDate: false,
  }
}

/**
 * The segment's records from the index's last entry on (from its start when the index is empty),
 * indexed as they are read; undefined when the record at that entry does not read or is not the
 * one it names (a wrong entry: the records before it were never checked here). Offsets follow
 * one another, or with `gaps` (a compacted segment, ./compaction.ts) only increase. `count`: the
 * offsets the records span, from the segment's base to the last one's.
 */
export function scanFrom(
  fd: number,
  index: SparseIndex,
  baseOffset: number,
  endBytes: number,
  stopAt: number,
  gaps: boolean,
): { index: SparseIndex; count: number; size: number } | undefined {
  const last = index.length - 1
  const startRelative = last < 0 ? 0 : index.relativeAt(last)
  const start = last < 0 ? 0 : index.positionAt(last)
  const buf = readAt(fd, start, endBytes - start)
  let count = startRelative
  let pos = 0
  while (pos < buf.length) {
    const bounds = recordBounds(buf, pos)
    const expected = baseOffset + count
    // The record an index entry names has that offset exactly; any other, the next or (gaps) a later one.
    const exact = !gaps || (pos === 0 && last >= 0)
    if (typeof bounds === 'string' || bounds.offset < expected || (exact && bounds.offset !== expected)) {
      if (pos === 0 && last > 0) return undefined
      break
    }
    if (bounds.offset >= stopAt) break
    index.offer(bounds.offset - baseOffset, start + pos)
    count = bounds.offset - baseOffset + 1
    pos = bounds.next
  }
  return { index, count, size: start + pos }
}

/** Up to `length` bytes of the file from `position`: fewer when it ends sooner. */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(0, length))
  let got = 0
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, position + got)
    if (n === 0) break
    got += n
  }
  return buf.subarray(0, got)
}
