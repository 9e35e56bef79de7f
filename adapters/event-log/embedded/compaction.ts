/**
 * Compaction of a partition of a topic created with `compactAfterMs` (ports/event-log.ts
 * TopicOptions; Kafka's cleanup.policy=compact with min.compaction.lag.ms): the table sources'
 * topics (engine/source-topics.ts) and the re-key stage's row-groups topic
 * (engine/rekey-row-index.ts), which would otherwise grow forever.
 *
 * What a pass removes, from the sealed segments only (the one taking appends is left whole):
 * - a record whose key has a later record in the partition, once its timestamp is at least
 *   `compactAfterMs` old;
 * - a tombstone (null value) that is its key's latest record, once it is `compactAfterMs` +
 *   TOMBSTONE_RETENTION_MS old (Kafka's delete.retention.ms default): a reader gets a day to see
 *   the deletion before the key is simply absent.
 * Never removed: a record with a null key (nothing supersedes it), and each segment's last record
 * — the segments' offsets still join end to start, so a segment cut short or missing is still
 * found on open. Offsets never change: a kept record keeps its own, and a read from a removed
 * offset starts at the next record kept (./segment-read.ts).
 *
 * A segment is rewritten beside itself (`<base>.log.compacting`, fsynced), its index removed,
 * then renamed over it and the directory fsynced: a crash leaves either segment whole, and the
 * index is rebuilt from whichever it is. A pass reads every segment of the partition (the keys'
 * latest offsets are a map in RAM while it runs: one entry per key) and runs when the sealed
 * bytes have doubled since the last one (Kafka's min.cleanable.dirty.ratio 0.5), so its reads are
 * amortised to about two per byte appended; it runs inside the append that rolls a segment. The
 * bytes a pass left are kept in `compacted` beside the segments (a hint: one that does not read
 * counts as none, and the next roll runs a pass), so a restart does not start the count over.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { readJson, writeJsonAtomic } from './durable-file.ts'
import { syncDirSync } from '../../local-disk/sync-dir.ts'
import { RECORD_PREFIX_BYTES, recordBounds } from './record-format.ts'
import type { Segment } from './segment-read.ts'
import { readAt } from './segment-scan.ts'
import { IndexFile, indexPathFor, SparseIndex } from './sparse-index.ts'

export const TOMBSTONE_RETENTION_MS = 24 * 3_600_000

const CLEAN_BYTES_FILE = 'compacted'

/** The sealed bytes the partition in `dir` held after its last pass; 0 when none is recorded or the file does not read. */
export function cleanBytesLeft(dir: string): number {
  try {
    const bytes = readJson<{ cleanBytes: number }>(join(dir, CLEAN_BYTES_FILE), (v) =>
      Number.isSafeInteger((v as { cleanBytes?: unknown } | null)?.cleanBytes),
    )?.cleanBytes
    return bytes === undefined || bytes < 0 ? 0 : bytes
  } catch {
    return 0
  }
}

/** Records the sealed bytes a pass left (no fsync: a hint, an older one only brings the next pass sooner). */
export function recordCleanBytes(dir: string, cleanBytes: number): void {
  try {
    writeJsonAtomic(join(dir, CLEAN_BYTES_FILE), { cleanBytes }, false)
  } catch {
    // The next open counts from 0: a pass at its first roll.
  }
}

/** A segment file's name while its compacted copy is written: never read as a segment. */
export const COMPACTING_SUFFIX = '.compacting'

export interface CompactionSettings {
  readonly afterMs: number
  readonly nowMs: () => number
}

/** The fields of one stored record a pass needs (./record-format.ts layout). */
interface RecordFacts {
  readonly start: number
  readonly end: number
  readonly offset: number
  readonly timestampMs: number
  /** The key's bytes as a string (latin1: one char a byte); null for a null key. */
  readonly key: string | null
  readonly tombstone: boolean
}

/** A segment a pass found damaged: the pass stops, rewriting nothing more (a read names the damage). */
class SegmentUnreadable extends Error {}

/** The segment's records, each checked whole (length, CRC, increasing offsets): a pass never copies damage as if it were records. */
function* recordsIn(buf: Buffer): Generator<RecordFacts> {
  let previous = -1
  for (let pos = 0; pos < buf.length;) {
    const bounds = recordBounds(buf, pos)
    if (typeof bounds === 'string' || bounds.offset <= previous) throw new SegmentUnreadable()
    previous = bounds.offset
    const end = bounds.next
    const p = pos + RECORD_PREFIX_BYTES
    const keyLength = buf.readInt32BE(p + 16)
    const keyEnd = p + 20 + Math.max(0, keyLength)
    yield {
      start: pos,
      end,
      offset: buf.readUInt32BE(p) * 2 ** 32 + buf.readUInt32BE(p + 4),
      timestampMs: buf.readDoubleBE(p + 8),
      key: keyLength < 0 ? null : buf.toString('latin1', p + 20, keyEnd),
      tombstone: buf.readInt32BE(keyEnd) < 0,
    }
    pos = end
  }
}

/** The segment's bytes, as far as it is indexed. */
function bytesOf(segment: Segment): Buffer {
  return readAt(segment.fd, 0, segment.size)
}

/**
 * Compacts `sealed` (the partition's segments before the one taking appends, `active`); returns
 * how many records it removed. A segment it fails to rewrite (a failing disk) is left as it was.
 */
export function compactSegments(
  sealed: readonly Segment[],
  active: Segment,
  settings: CompactionSettings,
  fsync: boolean,
): number {
  try {
    return compactPass(sealed, active, settings, fsync)
  } catch (err: unknown) {
    if (err instanceof SegmentUnreadable) return 0
    throw err
  }
}

function compactPass(sealed: readonly Segment[], active: Segment, settings: CompactionSettings, fsync: boolean): number {
  const latest = new Map<string, number>()
  for (const segment of [...sealed, active])
    for (const r of recordsIn(bytesOf(segment))) if (r.key !== null) latest.set(r.key, r.offset)
  const now = settings.nowMs()
  let removed = 0
  for (const segment of sealed) {
    const buf = bytesOf(segment)
    const last = segment.baseOffset + segment.count - 1
    const kept: RecordFacts[] = []
    for (const r of recordsIn(buf)) {
      const age = now - r.timestampMs
      const superseded = r.key !== null && latest.get(r.key)! > r.offset && age >= settings.afterMs
      const expired = r.key !== null && r.tombstone && age >= settings.afterMs + TOMBSTONE_RETENTION_MS
      if (r.offset === last || !(superseded || expired)) kept.push(r)
    }
    const before = segment.count === 0 ? 0 : countRecords(buf)
    if (kept.length === before) continue
    if (rewrite(segment, buf, kept, fsync)) removed += before - kept.length
  }
  return removed
}

function countRecords(buf: Buffer): number {
  let n = 0
  for (const _ of recordsIn(buf)) n++
  return n
}

/** Replaces the segment's file by its `kept` records; false when that failed (the segment is left as it was). */
function rewrite(segment: Segment, buf: Buffer, kept: readonly RecordFacts[], fsync: boolean): boolean {
  const out = Buffer.allocUnsafe(kept.reduce((n, r) => n + r.end - r.start, 0))
  const index = new SparseIndex()
  let at = 0
  for (const r of kept) {
    index.offer(r.offset - segment.baseOffset, at)
    at += buf.copy(out, at, r.start, r.end)
  }
  const tmp = `${segment.path}${COMPACTING_SUFFIX}`
  let fd: number
  try {
    const tmpFd = openSync(tmp, 'w')
    try {
      for (let done = 0; done < out.length;) done += writeSync(tmpFd, out, done, out.length - done, done)
      if (fsync) fsyncSync(tmpFd)
    } finally {
      closeSync(tmpFd)
    }
    // The old index would point into the old bytes: gone before they are, rebuilt if a crash comes between.
    unlinkIfThere(indexPathFor(segment.path))
    renameSync(tmp, segment.path)
    if (fsync) syncDirSync(dirname(segment.path))
    fd = openSync(segment.path, 'r+')
  } catch {
    unlinkIfThere(tmp)
    return false
  }
  closeSync(segment.fd)
  Object.assign(segment, { fd, size: out.length, index, next: undefined, gaps: true })
  const file = IndexFile.open(indexPathFor(segment.path), 0, false)
  file?.flush(index)
  file?.close()
  return true
}

function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // Absent already, or not removable: a stale index is rebuilt on open, a stale copy removed then.
  }
}
