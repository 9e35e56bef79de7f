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
 * Only the segment taking appends keeps a descriptor of its own; the sealed ones' are the log's
 * SegmentHandles' (./segment-handles.ts), opened when read, a bounded number at a time.
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
import { COMPACTING_SUFFIX, type CompactionSettings } from './compaction.ts'
import { CompactionQueue, PartitionCompaction } from './compaction-schedule.ts'
import { encodeRecords, type StoredRecord } from './record-format.ts'
import { readRecords, type Segment } from './segment-read.ts'
import { SegmentHandles } from './segment-handles.ts'
import { loadSegment, type LoadedSegment } from './segment-load.ts'
import { scanFrom } from './segment-scan.ts'
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
  /** The log's passes, run one at a time (./compaction-schedule.ts); default: the partition's own. */
  readonly compactionQueue?: CompactionQueue
  /** The log's open sealed segments (./segment-handles.ts); default: the partition's own, of the default limit. */
  readonly handles?: SegmentHandles
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
  readonly #handles: SegmentHandles
  /** A compacted topic's partition, open to write: its passes (./compaction-schedule.ts). */
  #compaction: PartitionCompaction | undefined
  /** Compacted, or may be: segments' offsets only increase, with gaps (./compaction.ts). */
  #gaps: boolean

  private constructor(dir: string, options: PartitionLogOptions, readOnlyEnd?: number) {
    this.#dir = dir
    this.#options = options
    this.#readOnlyEnd = readOnlyEnd
    this.#handles = options.handles ?? new SegmentHandles()
    this.#gaps = options.compaction !== undefined
    this.#acked = readOnlyEnd === undefined ? AckedEnd.open(dir) : undefined
    if (options.compaction !== undefined && readOnlyEnd === undefined) this.#startCompaction(options.compaction)
  }

  #startCompaction(settings: CompactionSettings): void {
    this.#compaction = new PartitionCompaction(this.#dir, settings, this.#options.fsync, this.#options.compactionQueue ?? new CompactionQueue(), {
      segments: () => this.#segments,
      files: { fd: (segment) => this.#fdOf(segment), replaced: (segment) => this.#handles.forget(segment) },
    })
  }

  /**
   * Makes this partition a compacted topic's (a topic created before its compaction setting was
   * stored, declared with one now): its segments may have gaps from now on, and rolls run passes.
   */
  startCompacting(settings: CompactionSettings): void {
    if (this.#compaction !== undefined || this.#readOnlyEnd !== undefined) return
    this.#gaps = true
    for (const s of this.#segments) s.gaps = true
    this.#startCompaction(settings)
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
  static openReadOnly(dir: string, end: number, compacted = false, handles?: SegmentHandles): PartitionLog {
    const log = new PartitionLog(
      dir,
      { segmentBytes: Infinity, fsync: false, ...(compacted ? { compaction: { afterMs: Infinity, nowMs: () => 0 } } : {}), ...(handles ? { handles } : {}) },
      end,
    )
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
        fsyncSync(segment.fd!)
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
        await fsyncAsync(segment.fd!)
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
    while (written < buf.length) written += writeSync(segment.fd!, buf, written, buf.length - written, segment.size + written)
    this.#options.fault?.('written', this.#dir)
  }

  /**
   * A batch whose write or fsync failed is cut from the file (best effort: the disk may be
   * failing): its records, whole on disk, would otherwise come back on the next open as records
   * past the acknowledged end — appended once more by a caller that was told this one failed.
   */
  #unwritten(segment: Segment, err: unknown): unknown {
    try {
      ftruncateSync(segment.fd!, segment.size)
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
    // Queued, not run here: the pass reads every segment, and this append would wait for it.
    this.#compaction?.rolled()
    return rolled
  }

  /** Runs a compaction pass over the sealed segments now (a compacted topic's partition only); returns the records removed. */
  compact(): number {
    return this.#compaction?.compactNow() ?? 0
  }

  /** The segment's open descriptor: the active one's own, a sealed one's from the log's handles (rescanned first if its file was replaced). */
  #fdOf(segment: Segment): number {
    if (segment.fd !== undefined) return segment.fd
    const fd = this.#handles.fd(segment)
    if (segment.replaced) {
      segment.replaced = false
      this.#reindex(segment, fd)
    }
    return fd
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
    // Held from here to the last read below with no other segment opened between: the handles cannot close it meanwhile.
    const fd = this.#fdOf(segment)
    const records = readRecords(segment, fd, fromOffset, maxRecords, maxBytes)
    if (typeof records !== 'number') return records
    // The index or the data disagrees with what was indexed: rescan the segment whole, which
    // names the damage if the data is at fault; a wrong index is rebuilt and the read done again.
    this.#reindex(segment, fd)
    const again = readRecords(segment, fd, fromOffset, maxRecords, maxBytes)
    if (typeof again === 'number') throw damaged(segment.path, again, fromOffset, undefined)
    return again
  }

  /** Rebuilds the segment's index from its bytes; refuses (DATA_CORRUPT) a record that no longer reads. */
  #reindex(segment: Segment, fd: number): void {
    const index = new SparseIndex()
    const { count, size } = scanFrom(fd, index, segment.baseOffset, segment.size, segment.baseOffset + segment.count, segment.gaps) as { count: number; size: number }
    if (count < segment.count) throw damaged(segment.path, size, segment.baseOffset + count, undefined)
    // Smaller than indexed only when the file was replaced by its compacted copy (a reader beside the writer).
    segment.size = size
    segment.index = index
    segment.next = undefined
    if (this.#readOnlyEnd !== undefined) return
    if (segment.indexFile) segment.indexFile.rewind(0)
    const file = segment.indexFile ?? IndexFile.open(indexPathFor(segment.path), 0, false)
    file?.flush(index)
    if (!segment.indexFile) file?.close()
  }

  close(): void {
    this.#compaction?.close()
    for (const s of this.#segments) {
      if (s.fd !== undefined) closeSync(s.fd)
      else this.#handles.forget(s)
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
    if (previous) {
      previous.indexFile = undefined
      // Sealed: its descriptor is the handles' now, closed when others are used more recently.
      this.#handles.adopt(previous, previous.fd!)
      previous.fd = undefined
    }
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
      gaps: this.#gaps,
    }
    this.#segments.push(segment)
    // The segment's fsync makes its bytes durable, not its name: without this, a machine crash
    // could lose the whole segment an acknowledged append went to. Once per roll.
    if (this.#options.fsync) syncDirSync(this.#dir)
    return segment
  }

  /** Loads a segment (./segment-load.ts); returns, for a writer, what brings its index file up to date (to run once the partition opened). */
  #load(name: string, isLast: boolean): (() => void) | undefined {
    const readOnly = this.#readOnlyEnd !== undefined
    let loaded: LoadedSegment
    try {
      loaded = loadSegment(this.#dir, name, { base: this.#end, readOnlyEnd: this.#readOnlyEnd, acked: this.#readOnlyEnd ?? this.#acked?.recorded, gaps: this.#gaps, isLast })
    } catch (err: unknown) {
      this.close()
      throw err
    }
    const { segment, indexWrite } = loaded
    this.#segments.push(segment)
    this.#end = segment.baseOffset + segment.count
    if (readOnly || !isLast) {
      this.#handles.adopt(segment, segment.fd!)
      segment.fd = undefined
    }
    return indexWrite
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
