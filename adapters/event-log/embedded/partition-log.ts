/**
 * One partition of the embedded log: an append-only sequence of segment files named after the
 * offset of their first record (`00000000000000000000.log`), as Kafka names its segments.
 *
 * Guarantees:
 * - Offsets start at 0 and grow by one per record, with no gaps, forever (no retention).
 * - `append` writes a whole batch with one write and, when `fsync` is on, one fsync before
 *   returning: once it returns, the batch survives a crash of the process or the machine.
 * - Reopening scans the segments, rebuilds the in-memory index (file position of each offset),
 *   and truncates a torn final write left by a crash mid-append — only past the acknowledged end
 *   (./acked-end.ts: the offset the last returned append reached). Damage anywhere else, or a log
 *   shorter than what was acknowledged, is refused rather than cut or skipped.
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
import { closeSync, existsSync, fsync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { InvariantViolation, SourceError } from '../../../core/errors.ts'
import { makeDirSync, syncDirSync } from '../../local-disk/sync-dir.ts'
import { AckedEnd } from './acked-end.ts'
import { logFileReadFailure } from './durable-file.ts'
import { decodeRecord, encodeRecords, type StoredRecord } from './record-format.ts'

const fsyncAsync = promisify(fsync)

/** File positions of a segment's records, by offset − baseOffset: a growing Float64Array (a million pushes onto a JS array cost more than the appends they index). */
class RecordPositions {
  #positions = new Float64Array(1024)
  length = 0

  push(position: number): void {
    if (this.length === this.#positions.length) {
      const grown = new Float64Array(this.#positions.length * 2)
      grown.set(this.#positions)
      this.#positions = grown
    }
    this.#positions[this.length++] = position
  }

  /** The position of record i, undefined past the last. */
  at(i: number): number | undefined {
    return i < this.length ? this.#positions[i] : undefined
  }
}

interface Segment {
  readonly path: string
  readonly baseOffset: number
  readonly fd: number
  size: number
  /** File position of each record, by offset − baseOffset. */
  readonly positions: RecordPositions
}

export interface PartitionLogOptions {
  readonly segmentBytes: number
  readonly fsync: boolean
  /**
   * Test seam for a failing disk: runs once a batch's bytes are written ('written') and before its
   * fsync ('fsync'); what it throws is that step failing (EIO, ENOSPC) with the bytes in the file.
   * `dir` is the partition's (one seam for every partition of a log).
   */
  readonly fault?: (step: 'written' | 'fsync', dir: string) => void
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

  private constructor(dir: string, options: PartitionLogOptions, readOnlyEnd?: number) {
    this.#dir = dir
    this.#options = options
    this.#readOnlyEnd = readOnlyEnd
    this.#acked = readOnlyEnd === undefined ? AckedEnd.open(dir) : undefined
  }

  static open(dir: string, options: PartitionLogOptions): PartitionLog {
    // A new partition's directory must survive a machine crash with the segments it will hold.
    makeDirSync(dir, options.fsync)
    const log = new PartitionLog(dir, options)
    const names = readdirSync(dir)
      .filter((n) => SEGMENT_NAME.test(n))
      .sort()
    names.forEach((name, i) => log.#load(name, i === names.length - 1))
    const acked = log.#acked?.recorded
    if (acked !== undefined && log.#end < acked) {
      log.close()
      throw recordsMissing(dir, log.#end, acked)
    }
    if (log.#segments.length === 0) log.#roll()
    return log
  }

  /**
   * The partition's first `end` records, read beside its writer: segments past them are not
   * looked at, nothing is created, truncated or written (a missing directory holds no records),
   * and appends are refused. Fewer than `end` records whole on disk is damage (DATA_CORRUPT), as
   * it is to the writer's open.
   */
  static openReadOnly(dir: string, end: number): PartitionLog {
    const log = new PartitionLog(dir, { segmentBytes: Infinity, fsync: false }, end)
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
    return segment.size >= this.#options.segmentBytes ? this.#roll() : segment
  }

  /** A batch of `bytes` written at the segment's end, its records at `starts`, made visible; returns its first offset. */
  #publish(segment: Segment, bytes: number, starts: ArrayLike<number>): number {
    const base = this.#end
    for (let i = 0; i < starts.length; i++) segment.positions.push(segment.size + starts[i]!)
    segment.size += bytes
    this.#end = base + starts.length
    ;(this.#acked as AckedEnd).write(this.#end)
    return base
  }

  /** Up to `maxRecords` records from `fromOffset` on (at least one when any exist), staying near `maxBytes`. */
  read(fromOffset: number, maxRecords: number, maxBytes: number): StoredRecord[] {
    if (fromOffset >= this.#end || fromOffset < 0) return []
    const segment = this.#segmentFor(fromOffset)
    const first = fromOffset - segment.baseOffset
    const start = segment.positions.at(first) as number
    let last = Math.min(first + maxRecords, segment.positions.length)
    while (last > first + 1 && (segment.positions.at(last) ?? segment.size) - start > maxBytes) last = Math.max(first + 1, (first + last) >> 1)
    const stop = segment.positions.at(last) ?? segment.size
    const buf = Buffer.allocUnsafe(stop - start)
    let got = 0
    while (got < buf.length) {
      const n = readSync(segment.fd, buf, got, buf.length - got, start + got)
      if (n === 0) throw damaged(segment.path, start + got, fromOffset, undefined)
      got += n
    }
    const out: StoredRecord[] = []
    let pos = 0
    while (pos < buf.length) {
      const decoded = decodeRecord(buf, pos)
      // Damaged since it was opened (its index was built from good bytes): refuse, as reopening would.
      if (typeof decoded === 'string' || decoded.record.offset !== fromOffset + out.length) throw damaged(segment.path, start + pos, fromOffset + out.length, undefined)
      out.push(decoded.record)
      pos = decoded.next
    }
    return out
  }

  close(): void {
    for (const s of this.#segments) closeSync(s.fd)
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
    const segment: Segment = { path, baseOffset: this.#end, fd: openSync(path, 'w+'), size: 0, positions: new RecordPositions() }
    this.#segments.push(segment)
    // The segment's fsync makes its bytes durable, not its name: without this, a machine crash
    // could lose the whole segment an acknowledged append went to. Once per roll.
    if (this.#options.fsync) syncDirSync(this.#dir)
    return segment
  }

  #load(name: string, isLast: boolean): void {
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
    let buf: Buffer
    try {
      buf = readFileSync(path)
    } catch (err: unknown) {
      this.close()
      throw logFileReadFailure(err, path, 'embedded log segment', 'restore the partition from a copy')
    }
    const positions = new RecordPositions()
    const stopAt = this.#readOnlyEnd ?? Infinity
    let pos = 0
    while (pos < buf.length && baseOffset + positions.length < stopAt) {
      const decoded = decodeRecord(buf, pos)
      if (typeof decoded === 'string' || decoded.record.offset !== baseOffset + positions.length) {
        const offset = baseOffset + positions.length
        const acked = this.#readOnlyEnd ?? this.#acked?.recorded
        if (!isLast || (acked !== undefined && offset < acked)) {
          this.close()
          throw damaged(path, pos, offset, acked)
        }
        break // a torn tail from a crash mid-append: the batch never returned, so nobody saw it
      }
      positions.push(pos)
      pos = decoded.next
    }
    if (this.#readOnlyEnd !== undefined) {
      // Bytes past `pos` are the writer's (an append in flight, a torn one its next open cuts): left as they are.
      this.#segments.push({ path, baseOffset, fd: openSync(path, 'r'), size: pos, positions })
      this.#end = baseOffset + positions.length
      return
    }
    // 'r+' rather than 'a': positional writes must land where the index says, after truncation.
    const fd = openSync(path, 'r+')
    if (pos < buf.length) {
      ftruncateSync(fd, pos)
      fsyncSync(fd)
    }
    this.#segments.push({ path, baseOffset, fd, size: pos, positions })
    this.#end = baseOffset + positions.length
  }
}

/** A segment file's name: its first record's offset, 20 digits. */
export const SEGMENT_NAME = /^\d{20}\.log$/

/** The partition holds fewer records than were acknowledged: lost on disk, never a torn tail to cut. */
function recordsMissing(dir: string, end: number, acknowledged: number): SourceError {
  return new SourceError(
    'DATA_CORRUPT',
    `embedded log partition ${dir} ends at offset ${end}, but appends up to offset ${acknowledged} were acknowledged: records are missing; restore the partition from a copy`,
    { context: { dir, end, acknowledged } },
  )
}

/** A segment whose bytes do not read as the records its name and index say: damage on disk, never a torn tail to cut. */
function damaged(path: string, position: number, offset: number, acked: number | undefined): SourceError {
  return new SourceError(
    'DATA_CORRUPT',
    `embedded log segment ${path} is damaged at byte ${position} (the record at offset ${offset}${acked === undefined ? '' : `; appends up to offset ${acked} were acknowledged`}): refusing to cut or skip acknowledged records; restore the partition from a copy`,
    { context: { path, position, offset } },
  )
}
