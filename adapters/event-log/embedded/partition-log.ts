/**
 * One partition of the embedded log: an append-only sequence of segment files named after the
 * offset of their first record (`00000000000000000000.log`), as Kafka names its segments.
 *
 * Guarantees:
 * - Offsets start at 0 and grow by one per record, forever (no retention by time or size). A
 *   compacted topic's partition (`compaction`, ./compaction.ts) removes records whose key has a
 *   later one from its sealed segments: its offsets then have gaps, each kept record its own.
 * - `append` writes a whole batch with one write and, when `fsync` is on, one fsync before
 *   returning: once it returns, the batch survives a crash of the process or the machine.
 * - Each segment has a sparse index (./sparse-index.ts: one entry per 4 KiB, in RAM and in a
 *   `<base>.index` file beside it, a hint never trusted over the data). Reopening reads the
 *   indexes and scans only each segment's bytes past its index's last entry (a whole segment when
 *   its index is missing or does not hold: a log written before indexes existed, a torn index),
 *   so it takes time per segment, not per record. It truncates a torn final write left by a crash
 *   mid-append — only past the acknowledged end (./acked-end.ts: the offset the last returned
 *   append reached). Damage anywhere else, or a log shorter than what was acknowledged, is
 *   refused rather than cut or skipped: on reopen when it lies in the bytes scanned, else when a
 *   read reaches it (every record read is checked: length, CRC, offset).
 *
 * I/O is synchronous, but for `appendEncodedAsync` (bulk appends: `kfs ingest`), whose fsync
 * runs on libuv's threads while the caller prepares its next batch. Appends are serialised
 * without locks: a synchronous one is refused while an asynchronous one is in flight (the caller,
 * EmbeddedEventLog, waits for it first). A read never sees half of a batch: the index and the end
 * offset move only once a batch is written (and fsynced). The embedded log is the single-process
 * default; throughput beyond that is what Kafka is for.
 *
 * `openReadOnly` opens a partition beside its writer (another process may hold the log): up to an
 * end the caller read from the acknowledged-end file, never past it — bytes there are an append in
 * flight or a torn one — and without creating, truncating or writing anything; it refuses appends.
 */
import { closeSync, existsSync, fsync, fsyncSync, ftruncateSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { InvariantViolation, SourceError } from '../../../core/errors.ts'
import { makeDirSync, syncDirSync } from '../../local-disk/sync-dir.ts'
import { AckedEnd } from './acked-end.ts'
import { damaged, recordsMissing } from './partition-damage.ts'
import { cleanBytesLeft, COMPACTING_SUFFIX, compactSegments, recordCleanBytes, type CompactionSettings } from './compaction.ts'
import { logFileReadFailure } from './durable-file.ts'
import { encodeRecords, type StoredRecord } from './record-format.ts'
import { readRecords, type Segment } from './segment-read.ts'
import { scanFrom, scanSegment } from './segment-scan.ts'
import { IndexFile, indexPathFor, SparseIndex } from './sparse-index.ts'

const fsyncAsync = promisify(fsync)

export interface PartitionLogOptions {
  readonly segmentBytes: number
  readonly fsync: boolean
  /**
   * Test seam for a failing disk: runs once a batch's bytes are written ('written') and before its
   * fsync ('fsync'); what it throws is that step failing (EIO, ENOSPC) with the bytes in the file.
   * `dir` is the partition's (one seam for every partition of a log).
   */
  readonly fault?: (step: 'written' | 'fsync', dir: string) => void
  /** A compacted topic's partition (./compaction.ts): its segments' offsets may have gaps. */
  readonly compaction?: CompactionSettings
}

export class PartitionLog {
  readonly #dir: string
  readonly #options: PartitionLogOptions
  readonly #segments: Segment[] = []
  /** Undefined when opened read-only: the writer's file is only read, once, by the caller. */
  readonly #acked: AckedEnd | undefined
  /** Read-only: the end the caller read from the writer's acknowledged-end file, which nothing here goes past. */
  readonly #readOnlyEnd: number | undefined
  #end = 0
  /** An appendEncodedAsync not settled yet: no other append may start. */
  #appending = false
  /** Bytes of the sealed segments after the last compaction pass (./compaction.ts `cleanBytesLeft`: kept across opens). */
  #cleanBytes = 0

  private constructor(dir: string, options: PartitionLogOptions, readOnlyEnd?: number) {
    this.#dir = dir
    this.#options = options
    this.#readOnlyEnd = readOnlyEnd
    this.#acked = readOnlyEnd === undefined ? AckedEnd.open(dir) : undefined
    if (options.compaction !== undefined && readOnlyEnd === undefined) this.#cleanBytes = cleanBytesLeft(dir)
  }

  static open(dir: string, options: PartitionLogOptions): PartitionLog {
    // A new partition's directory must survive a machine crash with the segments it will hold.
    makeDirSync(dir, options.fsync)
    const log = new PartitionLog(dir, options)
    const listed = readdirSync(dir)
    // A compacted copy a crash left unfinished: the segment beside it is whole.
    for (const n of listed) if (n.endsWith(COMPACTING_SUFFIX)) unlinkSync(join(dir, n))
    const names = listed.filter((n) => SEGMENT_NAME.test(n)).sort()
    const indexWrites = names.map((name, i) => log.#load(name, i === names.length - 1))
    const acked = log.#acked?.recorded
    if (acked !== undefined && log.#end < acked) {
      log.close()
      throw recordsMissing(dir, log.#end, acked)
    }
    // Only once the partition opened: a refused open leaves every file as it found it.
    for (const write of indexWrites) write?.()
    if (log.#segments.length === 0) log.#roll()
    return log
  }

  /**
   * The partition's first `end` records, read beside its writer: segments past them are not
   * looked at, nothing is created, truncated or written (a missing directory holds no records),
   * and appends are refused. Fewer than `end` records whole on disk is damage (DATA_CORRUPT), as
   * it is to the writer's open.
   */
  static openReadOnly(dir: string, end: number, compacted = false): PartitionLog {
    const log = new PartitionLog(dir, { segmentBytes: Infinity, fsync: false, ...(compacted ? { compaction: { afterMs: Infinity, nowMs: () => 0 } } : {}) }, end)
    const names = (existsSync(dir) ? readdirSync(dir) : []).filter((n) => SEGMENT_NAME.test(n) && Number(n.slice(0, 20)) < end).sort()
    names.forEach((name, i) => log.#load(name, i === names.length - 1))
    if (log.#end < end) {
      log.close()
      throw recordsMissing(dir, log.#end, end)
    }
    return log
  }

  /** Whether the partition directory `dir` holds a segment with any bytes (without opening it). */
  static holdsRecords(dir: string): boolean {
    return readdirSync(dir).some((n) => SEGMENT_NAME.test(n) && statSync(join(dir, n)).size > 0)
  }

  get endOffset(): number {
    return this.#end
  }

  /** Appends records in order; returns the offset given to the first one. */
  append(records: readonly Omit<StoredRecord, 'offset'>[]): number {
    const base = this.#end
    if (records.length === 0) return base
    const { buf, starts } = encodeRecords(records, base)
    return this.appendEncoded(buf, starts)
  }

  /**
   * Appends records already in the segment format, numbered from `endOffset` on (encodeRecords,
   * ./packed-records.ts), `starts` their positions in `buf`; returns the first one's offset.
   */
  appendEncoded(buf: Buffer, starts: ArrayLike<number>): number {
    const base = this.#end
    if (starts.length === 0) return base
    const segment = this.#segmentForAppend()
    try {
      this.#write(segment, buf)
      if (this.#options.fsync) {
        this.#options.fault?.('fsync', this.#dir)
        fsyncSync(segment.fd)
      }
    } catch (err: unknown) {
      throw this.#unwritten(segment, err)
    }
    return this.#publish(segment, buf.length, starts)
  }

  /**
   * appendEncoded with the fsync off this thread. Until it settles no other append may
   * start; reads meanwhile see the log without the batch. A failed write leaves the index as it
   * was (bytes past the indexed end are overwritten by the next append, or cut on reopen).
   */
  async appendEncodedAsync(buf: Buffer, starts: ArrayLike<number>): Promise<number> {
    if (starts.length === 0) return this.#end
    const segment = this.#segmentForAppend()
    this.#appending = true
    try {
      // The write into the page cache here (a few ms for a chunk), the fsync on libuv's threads:
      // written there, the fsync would start only once this thread, busy with the next chunk,
      // saw the write's completion — and the caller would then wait for the whole fsync.
      this.#write(segment, buf)
      if (this.#options.fsync) {
        this.#options.fault?.('fsync', this.#dir)
        await fsyncAsync(segment.fd)
      }
    } catch (err: unknown) {
      throw this.#unwritten(segment, err)
    } finally {
      this.#appending = false
    }
    return this.#publish(segment, buf.length, starts)
  }

  /** `buf` at the segment's indexed end. */
  #write(segment: Segment, buf: Buffer): void {
    let written = 0
    while (written < buf.length) written += writeSync(segment.fd, buf, written, buf.length - written, segment.size + written)
    this.#options.fault?.('written', this.#dir)
  }

  /**
   * A batch whose write or fsync failed is cut from the file (best effort: the disk may be
   * failing): its records, whole on disk, would otherwise come back on the next open as records
   * past the acknowledged end — appended once more by a caller that was told this one failed.
   */
  #unwritten(segment: Segment, err: unknown): unknown {
    try {
      ftruncateSync(segment.fd, segment.size)
    } catch {
      // The error that matters is the append's; a reopen still cuts what does not read.
    }
    return err
  }

  #segmentForAppend(): Segment {
    if (this.#readOnlyEnd !== undefined) throw new SourceError('BAD_REQUEST', `embedded log partition ${this.#dir} is open read-only here (beside its writer): it takes no appends`, { context: { dir: this.#dir } })
    if (this.#appending) throw new InvariantViolation('embedded log append while an asynchronous append is in flight', { context: { dir: this.#dir } })
    const segment = this.#segments.at(-1) as Segment
    if (segment.size < this.#options.segmentBytes) return segment
    const rolled = this.#roll()
    this.#compactWhenDue()
    return rolled
  }

  /** A compaction pass once the sealed segments hold twice the bytes the last pass left (./compaction.ts). */
  #compactWhenDue(): void {
    const sealedBytes = this.#segments.slice(0, -1).reduce((n, s) => n + s.size, 0)
    if (this.#options.compaction === undefined || sealedBytes < 2 * this.#cleanBytes) return
    this.compact()
  }

  /** Runs a compaction pass over the sealed segments now (a compacted topic's partition only); returns the records removed. */
  compact(): number {
    const settings = this.#options.compaction
    if (settings === undefined || this.#readOnlyEnd !== undefined) return 0
    const removed = compactSegments(this.#segments.slice(0, -1), this.#segments.at(-1) as Segment, settings, this.#options.fsync)
    this.#cleanBytes = this.#segments.slice(0, -1).reduce((n, s) => n + s.size, 0)
    recordCleanBytes(this.#dir, this.#cleanBytes)
    return removed
  }

  /** A batch of `bytes` written at the segment's end, its records at `starts`, made visible; returns its first offset. */
  #publish(segment: Segment, bytes: number, starts: ArrayLike<number>): number {
    const base = this.#end
    for (let i = 0; i < starts.length; i++) segment.index.offer(segment.count + i, segment.size + starts[i]!)
    segment.size += bytes
    segment.count += starts.length
    segment.indexFile?.flush(segment.index)
    this.#end = base + starts.length
    ;(this.#acked as AckedEnd).write(this.#end)
    return base
  }

  /** Up to `maxRecords` records from `fromOffset` on (at least one when any exist), staying within `maxBytes` (but for a first record larger). */
  read(fromOffset: number, maxRecords: number, maxBytes: number): StoredRecord[] {
    if (fromOffset >= this.#end || fromOffset < 0) return []
    const segment = this.#segmentFor(fromOffset)
    const records = readRecords(segment, fromOffset, maxRecords, maxBytes)
    if (typeof records !== 'number') return records
    // The index or the data disagrees with what was indexed: rescan the segment whole, which
    // names the damage if the data is at fault; a wrong index is rebuilt and the read done again.
    this.#reindex(segment)
    const again = readRecords(segment, fromOffset, maxRecords, maxBytes)
    if (typeof again === 'number') throw damaged(segment.path, again, fromOffset, undefined)
    return again
  }

  /** Rebuilds the segment's index from its bytes; refuses (DATA_CORRUPT) a record that no longer reads. */
  #reindex(segment: Segment): void {
    const index = new SparseIndex()
    const { count, size } = scanFrom(segment.fd, index, segment.baseOffset, segment.size, segment.baseOffset + segment.count, segment.gaps) as { count: number; size: number }
    if (count < segment.count) throw damaged(segment.path, size, segment.baseOffset + count, undefined)
    segment.index = index
    segment.next = undefined
    if (this.#readOnlyEnd !== undefined) return
    if (segment.indexFile) segment.indexFile.rewind(0)
    const file = segment.indexFile ?? IndexFile.open(indexPathFor(segment.path), 0, false)
    file?.flush(index)
    if (!segment.indexFile) file?.close()
  }

  close(): void {
    for (const s of this.#segments) {
      closeSync(s.fd)
      s.indexFile?.close()
    }
    this.#segments.length = 0
    this.#acked?.close()
  }

  #segmentFor(offset: number): Segment {
    let lo = 0
    let hi = this.#segments.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.#segments[mid] as Segment).baseOffset <= offset) lo = mid
      else hi = mid - 1
    }
    return this.#segments[lo] as Segment
  }

  #roll(): Segment {
    const name = `${String(this.#end).padStart(20, '0')}.log`
    const path = join(this.#dir, name)
    const previous = this.#segments.at(-1)
    previous?.indexFile?.close()
    if (previous) previous.indexFile = undefined
    const indexFile = IndexFile.open(indexPathFor(path), 0, false)
    const segment: Segment = {
      path,
      baseOffset: this.#end,
      fd: openSync(path, 'w+'),
      size: 0,
      count: 0,
      index: new SparseIndex(),
      indexFile,
      next: undefined,
      gaps: this.#options.compaction !== undefined,
    }
    this.#segments.push(segment)
    // The segment's fsync makes its bytes durable, not its name: without this, a machine crash
    // could lose the whole segment an acknowledged append went to. Once per roll.
    if (this.#options.fsync) syncDirSync(this.#dir)
    return segment
  }

  /** Loads a segment; returns, for a writer, what brings its index file up to date (to run once the partition opened). */
  #load(name: string, isLast: boolean): (() => void) | undefined {
    const path = join(this.#dir, name)
    const baseOffset = Number(name.slice(0, 20))
    if (baseOffset !== this.#end) {
      this.close()
      throw new SourceError(
        'DATA_CORRUPT',
        `embedded log segment ${path} starts at offset ${baseOffset}, but the segments before it end at offset ${this.#end}: a segment is missing; restore the partition from a copy`,
        { context: { dir: this.#dir, segment: name, offset: this.#end } },
      )
    }
    const readOnly = this.#readOnlyEnd !== undefined
    let fd: number
    try {
      // 'r+' rather than 'a': positional writes must land where the index says, after truncation.
      fd = openSync(path, readOnly ? 'r' : 'r+')
    } catch (err: unknown) {
      this.close()
      throw logFileReadFailure(err, path, 'embedded log segment', 'restore the partition from a copy')
    }
    let scanned: ReturnType<typeof scanSegment>
    try {
      scanned = scanSegment(fd, path, baseOffset, this.#readOnlyEnd ?? Infinity, this.#options.compaction !== undefined)
    } catch (err: unknown) {
      closeSync(fd)
      this.close()
      throw logFileReadFailure(err, path, 'embedded log segment', 'restore the partition from a copy')
    }
    const { index, count, size, fileBytes } = scanned
    const end = baseOffset + count
    if (size < fileBytes && end < (this.#readOnlyEnd ?? Infinity)) {
      const acked = this.#readOnlyEnd ?? this.#acked?.recorded
      // Past the acknowledged end on the last segment: a torn tail from a crash mid-append — the batch never returned, so nobody saw it.
      if (!isLast || (acked !== undefined && end < acked)) {
        closeSync(fd)
        this.close()
        throw damaged(path, size, end, acked)
      }
    }
    const segment: Segment = { path, baseOffset, fd, size, count, index, indexFile: undefined, next: undefined, gaps: this.#options.compaction !== undefined }
    this.#segments.push(segment)
    this.#end = end
    // Read-only: bytes past `size` are the writer's (an append in flight, a torn one its next open cuts), and its index is its own.
    if (readOnly) return undefined
    if (size < fileBytes) {
      ftruncateSync(fd, size)
      fsyncSync(fd)
    }
    // A sealed segment whose index file holds its index as it is: no file to open (one open per segment is most of an open's time).
    if (scanned.upToDate && !isLast) return undefined
    return () => {
      const indexFile = IndexFile.open(indexPathFor(path), scanned.fileEntries, scanned.headerOk)
      indexFile?.flush(index)
      if (isLast) segment.indexFile = indexFile
      else indexFile?.close()
    }
  }
}

/** A topic's partitions `0…count-1` under `topicDir`: all opened, or none (each failed open would leak their files). */
export function openPartitions(topicDir: string, count: number, options: PartitionLogOptions): PartitionLog[] {
  const partitions: PartitionLog[] = []
  try {
    for (let p = 0; p < count; p++) partitions.push(PartitionLog.open(join(topicDir, String(p)), options))
  } catch (err: unknown) {
    for (const opened of partitions) opened.close()
    throw err
  }
  return partitions
}

/** A segment file's name: its first record's offset, 20 digits. */
export const SEGMENT_NAME = /^\d{20}\.log$/
