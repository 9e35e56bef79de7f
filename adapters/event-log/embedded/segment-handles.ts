/**
 * The open descriptors of sealed segments, shared by every partition of a log (or of a reader
 * beside it): at most `limit` at a time, the least recently used closed when another is needed,
 * and reopened when next read.
 *
 * Why: a partition rolls a segment every `segmentBytes`; a week of `kfs run` leaves ~900 of them
 * per partition, and one descriptor each ran a 16-partition log into EMFILE (the usual ulimit is
 * 1024–4096). The segment taking appends keeps its own descriptor (./partition-log.ts), so only
 * reads of older records — catch-up reads, compaction passes — open files here.
 *
 * A descriptor is closed only inside `fd`, `adopt` or `forget`, never while a caller holds it:
 * every read of a segment gets its descriptor and reads synchronously, with no await between, so
 * nothing can evict it mid-read.
 *
 * A segment whose file was replaced since its descriptor was last opened (another inode: a
 * compaction pass of the writer while a reader beside it had closed its descriptor) is marked
 * `replaced`: its index points into the old bytes, and the partition rescans it before reading.
 */
import { closeSync, fstatSync, openSync } from 'node:fs'
import { SourceError } from '../../../core/errors.ts'
import type { Segment } from './segment-read.ts'

/** Default bound on the sealed segments open at once per log. */
export const DEFAULT_OPEN_SEGMENTS = 64

export class SegmentHandles {
  readonly #limit: number
  /** Insertion order is recency: the first entry is the one to close next. */
  readonly #open = new Map<Segment, number>()

  constructor(limit = DEFAULT_OPEN_SEGMENTS) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`the open segment limit must be a whole number ≥ 1, got ${limit}`)
    this.#limit = limit
  }

  /** How many sealed segments may be open at once. */
  get limit(): number {
    return this.#limit
  }

  /** Sealed segments open now (at most the limit). */
  get openCount(): number {
    return this.#open.size
  }

  /** The sealed segment's descriptor, opened read-only when it is not open. */
  fd(segment: Segment): number {
    const fd = this.#open.get(segment)
    if (fd !== undefined) {
      this.#open.delete(segment)
      this.#open.set(segment, fd)
      return fd
    }
    let opened: number
    try {
      opened = openSync(segment.path, 'r')
    } catch (err: unknown) {
      throw unopenable(segment, err)
    }
    let ino: number
    try {
      ino = fstatSync(opened).ino
    } catch (err: unknown) {
      closeSync(opened)
      throw err
    }
    if (segment.ino !== undefined && segment.ino !== ino) segment.replaced = true
    segment.ino = ino
    this.adopt(segment, opened)
    return opened
  }

  /** Takes over `fd`, the segment's open descriptor (a segment just sealed, or loaded on open). */
  adopt(segment: Segment, fd: number): void {
    const held = this.#open.get(segment)
    if (held !== undefined && held !== fd) closeSync(held)
    this.#open.delete(segment)
    this.#open.set(segment, fd)
    for (const [oldest, oldFd] of this.#open) {
      if (this.#open.size <= this.#limit) break
      this.#open.delete(oldest)
      closeSync(oldFd)
    }
  }

  /** Closes the segment's descriptor if it is open (its partition closed, or its file replaced). */
  forget(segment: Segment): void {
    const fd = this.#open.get(segment)
    if (fd === undefined) return
    this.#open.delete(segment)
    closeSync(fd)
  }
}

/** A sealed segment's file that no longer opens: gone (deleted beside the log) is damage, named; any other failure as it was. */
function unopenable(segment: Segment, err: unknown): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err
  return new SourceError(
    'DATA_CORRUPT',
    `embedded log segment ${segment.path} is gone while its partition is open (deleted beside the log?): restore the partition from a copy`,
    { context: { segment: segment.path } },
  )
}
