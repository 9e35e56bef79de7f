/**
 * A segment's sparse index: where some of its records start — the first, then the first record
 * at least `INDEX_INTERVAL_BYTES` past the last one indexed — in memory and in a file beside the
 * segment, `<base>.index`, as Kafka keeps one.
 *
 * Why: a full index (the position of every record) cost ~10 B of RAM per record and a scan of
 * every record on each open — ~6 GB and 10–17 minutes after a week at 1k records/s. A sparse one
 * costs 12 B per 4 KiB of segment, and opening reads it and scans only the bytes after its last
 * entry; a read starts at the entry at or before its offset and skips forward (< 4 KiB plus one
 * record).
 *
 * The file is a hint, never trusted over the data: it is written after the records it points at
 * (and after their fsync), never fsynced itself, and each 16-byte entry carries its CRC. Opening
 * keeps the longest prefix of entries that read (CRC, increasing, inside the segment) — a torn,
 * missing, stale or damaged file only costs a longer scan — and rewrites the file to what it
 * found. An entry that still disagrees with the data (a read lands on a record of another offset)
 * has the segment rescanned whole, which refuses real damage as opening always did.
 *
 * File: `KFSIDX1\n`, then per entry u32 offset − base, u64 position, u32 CRC-32 of those 12 bytes.
 */
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { crc32 } from './record-format.ts'

export const INDEX_INTERVAL_BYTES = 4096
const MAGIC = Buffer.from('KFSIDX1\n')
const ENTRY_BYTES = 16

export class SparseIndex {
  #relative = new Uint32Array(64)
  #positions = new Float64Array(64)
  length = 0

  /** Indexes the record `relative` (offset − base) at `position` when it is due: the first, or INDEX_INTERVAL_BYTES past the last entry. */
  offer(relative: number, position: number): void {
    if (this.length > 0 && position - this.#positions[this.length - 1]! < INDEX_INTERVAL_BYTES) return
    if (this.length === this.#relative.length) {
      const relative = new Uint32Array(this.length * 2)
      relative.set(this.#relative)
      this.#relative = relative
      const positions = new Float64Array(this.length * 2)
      positions.set(this.#positions)
      this.#positions = positions
    }
    this.#relative[this.length] = relative
    this.#positions[this.length++] = position
  }

  relativeAt(i: number): number {
    return this.#relative[i]!
  }

  positionAt(i: number): number {
    return this.#positions[i]!
  }

  /** The last entry at or before record `relative`; -1 when the index is empty. */
  floor(relative: number): number {
    let lo = 0
    let hi = this.length - 1
    if (hi < 0) return -1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.#relative[mid]! <= relative) lo = mid
      else hi = mid - 1
    }
    return this.#relative[lo]! <= relative ? lo : -1
  }

  truncate(length: number): void {
    this.length = Math.min(this.length, length)
  }

  /** Bytes of RAM the entries hold (the typed arrays' capacity). */
  get bytes(): number {
    return this.#relative.byteLength + this.#positions.byteLength
  }
}

/** The path of the index of the segment at `segmentPath`. */
export function indexPathFor(segmentPath: string): string {
  return segmentPath.replace(/\.log$/, '.index')
}

/**
 * The entries of the index file at `path` that read, for a segment of `segmentBytes` bytes: the
 * longest prefix whose entries carry their CRC, start at the first record, at byte 0, and increase, inside
 * the segment. A missing or unreadable file gives none (a segment written before indexes existed).
 * `headerOk`: its header reads; `exact`: the file holds those entries and nothing else.
 */
export function readIndexFile(path: string, segmentBytes: number): { index: SparseIndex; headerOk: boolean; exact: boolean } {
  const index = new SparseIndex()
  let buf: Buffer
  try {
    buf = readFileSync(path)
  } catch {
    return { index, headerOk: false, exact: false }
  }
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return { index, headerOk: false, exact: false }
  for (let at = MAGIC.length; at + ENTRY_BYTES <= buf.length; at += ENTRY_BYTES) {
    if (crc32(buf, at, at + 12) !== buf.readUInt32BE(at + 12)) break
    const relative = buf.readUInt32BE(at)
    const position = buf.readUInt32BE(at + 4) * 2 ** 32 + buf.readUInt32BE(at + 8)
    const n = index.length
    // The first entry is the first record (a compacted segment's may be past its base offset).
    const ordered =
      n === 0 ? position === 0 : relative > index.relativeAt(n - 1) && position >= index.positionAt(n - 1) + INDEX_INTERVAL_BYTES
    if (!ordered || position >= segmentBytes) break
    index.offer(relative, position)
  }
  return { index, headerOk: true, exact: buf.length === MAGIC.length + index.length * ENTRY_BYTES }
}

/**
 * The writable index file of one segment: entries are appended as the segment's index grows,
 * each at its place in the file, so a write that failed is written again by the next flush.
 */
export class IndexFile {
  readonly #fd: number
  /** Entries the file holds in place. */
  #written: number

  private constructor(fd: number, written: number) {
    this.#fd = fd
    this.#written = written
  }

  /**
   * Opens (creating) the index at `path` holding `fileEntries` good entries in place under a good
   * header (`headerOk`); anything after them is cut, and a file without a good header restarted.
   * Undefined when it cannot be (a directory in its place, a failing disk): the segment goes on
   * without one, indexed in memory, and the next open scans it whole.
   */
  static open(path: string, fileEntries: number, headerOk: boolean): IndexFile | undefined {
    let fd: number
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT)
    } catch {
      return undefined
    }
    try {
      ftruncateSync(fd, headerOk ? MAGIC.length + fileEntries * ENTRY_BYTES : 0)
      if (!headerOk) writeSync(fd, MAGIC, 0, MAGIC.length, 0)
      return new IndexFile(fd, headerOk ? fileEntries : 0)
    } catch {
      closeSync(fd)
      return undefined
    }
  }

  /**
   * Writes the entries of `index` the file does not hold yet. Best effort: the records they point
   * at are durable already, and an index that misses entries only makes the next open scan more.
   */
  flush(index: SparseIndex): void {
    if (this.#written >= index.length) return
    const buf = Buffer.allocUnsafe((index.length - this.#written) * ENTRY_BYTES)
    for (let i = this.#written, at = 0; i < index.length; i++, at += ENTRY_BYTES) {
      const position = index.positionAt(i)
      buf.writeUInt32BE(index.relativeAt(i), at)
      buf.writeUInt32BE(Math.floor(position / 2 ** 32), at + 4)
      buf.writeUInt32BE(position % 2 ** 32, at + 8)
      buf.writeUInt32BE(crc32(buf, at, at + 12), at + 12)
    }
    try {
      let done = 0
      const start = MAGIC.length + this.#written * ENTRY_BYTES
      while (done < buf.length) done += writeSync(this.#fd, buf, done, buf.length - done, start + done)
      this.#written = index.length
    } catch {
      // Left for the next flush; the reopen after a crash meanwhile scans from the entries the file holds.
    }
  }

  /** Forgets every entry from `length` on (the index was rebuilt): the next flush writes them again. */
  rewind(length: number): void {
    if (this.#written <= length) return
    this.#written = length
    try {
      // Stale entries left after the rewritten ones would read as good on the next open.
      ftruncateSync(this.#fd, MAGIC.length + length * ENTRY_BYTES)
    } catch {
      this.#written = 0 // rewritten whole by the next flush, or rebuilt from the data on the next open
    }
  }

  close(): void {
    closeSync(this.#fd)
  }
}
