/**
 * Opening one segment of a partition (./partition-log.ts): its descriptor, the records that read
 * from its start (./segment-scan.ts), and what is refused. A torn tail — bytes that do not read,
 * past the acknowledged end, on the last segment — is a crash mid-append: cut (by a writer). Bytes
 * that do not read anywhere else are damage (DATA_CORRUPT), as is a segment that does not start
 * where the one before it ended.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { SourceError } from '../../../core/errors.ts'
import { logFileReadFailure } from './durable-file.ts'
import { damaged } from './partition-damage.ts'
import type { Segment } from './segment-read.ts'
import { scanSegment } from './segment-scan.ts'
import { IndexFile, indexPathFor } from './sparse-index.ts'

export interface SegmentLoad {
  /** Where the segments before it end: its first offset. */
  readonly base: number
  /** Read-only beside the writer: the end read up to, which nothing passes; undefined for the writer. */
  readonly readOnlyEnd: number | undefined
  /** The acknowledged end (the writer's record of it, or the read-only end). */
  readonly acked: number | undefined
  readonly gaps: boolean
  readonly isLast: boolean
}

export interface LoadedSegment {
  /** With its descriptor open (`fd`), the caller's to keep or hand over. */
  readonly segment: Segment
  /** For a writer: what brings its index file up to date, to run once the partition opened. */
  readonly indexWrite: (() => void) | undefined
}

/** The segment `name` of the partition in `dir`; refused (its descriptor closed) when it does not read as the partition's next. */
export function loadSegment(dir: string, name: string, at: SegmentLoad): LoadedSegment {
  const path = join(dir, name)
  const baseOffset = Number(name.slice(0, 20))
  if (baseOffset !== at.base) {
    throw new SourceError(
      'DATA_CORRUPT',
      `embedded log segment ${path} starts at offset ${baseOffset}, but the segments before it end at offset ${at.base}: a segment is missing; restore the partition from a copy`,
      { context: { dir, segment: name, offset: at.base } },
    )
  }
  const readOnly = at.readOnlyEnd !== undefined
  let fd: number
  try {
    // 'r+' rather than 'a': positional writes must land where the index says, after truncation.
    fd = openSync(path, readOnly ? 'r' : 'r+')
  } catch (err: unknown) {
    throw logFileReadFailure(err, path, 'embedded log segment', 'restore the partition from a copy')
  }
  try {
    return loadOpened(fd, path, baseOffset, at)
  } catch (err: unknown) {
    closeSync(fd)
    throw err
  }
}

function loadOpened(fd: number, path: string, baseOffset: number, at: SegmentLoad): LoadedSegment {
  let scanned: ReturnType<typeof scanSegment>
  try {
    scanned = scanSegment(fd, path, baseOffset, at.readOnlyEnd ?? Infinity, at.gaps)
  } catch (err: unknown) {
    throw logFileReadFailure(err, path, 'embedded log segment', 'restore the partition from a copy')
  }
  const { index, count, size, fileBytes } = scanned
  const end = baseOffset + count
  // Past the acknowledged end on the last segment: a torn tail from a crash mid-append — the batch never returned, so nobody saw it.
  if (size < fileBytes && end < (at.readOnlyEnd ?? Infinity) && (!at.isLast || (at.acked !== undefined && end < at.acked)))
    throw damaged(path, size, end, at.acked)
  if (at.readOnlyEnd === undefined && size < fileBytes) {
    ftruncateSync(fd, size)
    fsyncSync(fd)
  }
  // A reader beside the writer may reopen it after the writer's compaction replaced it: the inode tells (./segment-handles.ts).
  const segment: Segment = {
    path,
    baseOffset,
    fd,
    ino: fstatSync(fd).ino,
    size,
    count,
    index,
    indexFile: undefined,
    next: undefined,
    gaps: at.gaps,
  }
  // Read-only: bytes past `size` are the writer's (an append in flight, a torn one its next open cuts), and its index is its own.
  // A sealed segment whose index file holds its index as it is: no file to open (one open per segment is most of an open's time).
  if (at.readOnlyEnd !== undefined || (scanned.upToDate && !at.isLast)) return { segment, indexWrite: undefined }
  return {
    segment,
    indexWrite: () => {
      const indexFile = IndexFile.open(indexPathFor(path), scanned.fileEntries, scanned.headerOk)
      indexFile?.flush(index)
      if (at.isLast) segment.indexFile = indexFile
      else indexFile?.close()
    },
  }
}
