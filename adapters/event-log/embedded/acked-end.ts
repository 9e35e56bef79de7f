/**
 * A partition's acknowledged end: the offset after the last record an append has returned for,
 * in a 12-byte file beside the segments (`acked-end`: the offset as i64, then its CRC-32), written
 * after every append.
 *
 * Why: reopening must cut a torn final write — a crash mid-append leaves part of a batch nobody
 * was told about — but must never cut records an append returned for. Without this file a byte
 * damaged in the middle of the last segment looked like a torn tail, and every record after it
 * was cut on the next open without a word. Now recovery cuts only at or past this offset and
 * refuses anything below it.
 *
 * It is not fsynced: after a machine crash it can only be older than the data (the segment's
 * fsync ran first), which claims less, never more. A file that is missing (a log written before
 * it existed) or fails its CRC (a torn 12-byte write) claims nothing: recovery cuts as before.
 */
import { closeSync, constants, openSync, readFileSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { logFileReadFailure } from './durable-file.ts'
import { crc32 } from './record-format.ts'

const FILE = 'acked-end'
const WHAT = "embedded log partition's acknowledged end"
// The file only ever claims less than the segments hold: without it, recovery cuts a torn tail as before.
const ADVICE = 'remove it (the partition reopens without it)'
const BYTES = 12

export class AckedEnd {
  readonly #fd: number
  readonly #buf = Buffer.alloc(BYTES)
  /** The end recorded when the log was opened; undefined when none is readable. */
  readonly recorded: number | undefined

  private constructor(fd: number, recorded: number | undefined) {
    this.#fd = fd
    this.recorded = recorded
  }

  static open(dir: string): AckedEnd {
    // Read-write, created when absent, not O_APPEND: writes go to position 0 ('a+' would append).
    const path = join(dir, FILE)
    let fd: number
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT)
    } catch (err: unknown) {
      throw logFileReadFailure(err, path, WHAT, ADVICE)
    }
    const buf = Buffer.alloc(BYTES)
    const n = readSync(fd, buf, 0, BYTES, 0)
    return new AckedEnd(fd, recordedIn(buf.subarray(0, n)))
  }

  /**
   * The end recorded in `dir` now, for a reader beside the writer (./embedded-log-reader.ts):
   * nothing is created or opened for writing. Undefined when none is readable — no file, an empty
   * one (a partition not appended to since it was opened), or a 12-byte write caught half done.
   */
  static read(dir: string): number | undefined {
    let buf: Buffer
    try {
      buf = readFileSync(join(dir, FILE))
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw logFileReadFailure(err, join(dir, FILE), WHAT, ADVICE)
    }
    return recordedIn(buf)
  }

  write(end: number): void {
    this.#buf.writeBigInt64BE(BigInt(end), 0)
    this.#buf.writeUInt32BE(crc32(this.#buf, 0, 8), 8)
    writeSync(this.#fd, this.#buf, 0, BYTES, 0)
  }

  close(): void {
    closeSync(this.#fd)
  }
}

function recordedIn(buf: Buffer): number | undefined {
  return buf.length >= BYTES && crc32(buf, 0, 8) === buf.readUInt32BE(8) ? Number(buf.readBigInt64BE(0)) : undefined
}
