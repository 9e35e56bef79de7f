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
 * index is rebuilt from whichever it is. A pass runs when the sealed bytes have doubled since the
 * last one (Kafka's min.cleanable.dirty.ratio 0.5), so its reads are amortised to about two per
 * byte appended. It runs after the append that rolled a segment, not inside it: queued, one pass
 * of the log at a time, a segment per step with appends and reads between
 * (./compaction-schedule.ts). The bytes a pass left are kept in `compacted` beside the segments (a
 * hint: one that does not read counts as none, and the next roll runs a pass), so a restart does
 * not start the count over.
 *
 * Memory: a pass maps each key to its latest offset, at most `maxKeys` keys (the log's
 * `compactionMaxKeys`, default 1,000,000), read from the newest segment back. The map holds the
 * keys themselves, not hashes of them: two keys sharing a hash would have the older one's records
 * removed as superseded by the other's, a silent loss; a map that stops at its bound only removes
 * less (a key it does not hold keeps its records), and the next pass maps the older segments.
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
  /** The most keys a pass maps (Memory, above); default DEFAULT_COMPACTION_MAX_KEYS (./compaction-schedule.ts). */
  readonly maxKeys?: number
  /** A queued pass that failed (a failing disk): the segments stay whole, and the next roll tries again. */
  readonly onFailure?: (err: unknown) => void
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

/** How a pass reaches segment files: the descriptor of any segment, and word that one's file was replaced. */
export interface SegmentFiles {
  fd(segment: Segment): number
  /** The segment's file is now the compacted copy: its descriptor (of the old file) is to be closed. */
  replaced(segment: Segment): void
}

/** A segment as a pass sees it: its bytes up to `size` (the one taking appends may grow meanwhile; its later bytes are not read). */
export interface PassSegment {
  readonly segment: Segment
  readonly size: number
}

/** The segment's first `size` bytes. */
function bytesOf(files: SegmentFiles, { segment, size }: PassSegment): Buffer {
  return readAt(files.fd(segment), 0, size)
}

export interface PassResult {
  /** Records removed. */
  readonly removed: number
  /**
   * The oldest segment whose keys the pass mapped (an index into the segments it was given); 0
   * when it mapped them all. Above 0 the key budget ran out: the next pass maps from the segment
   * before it back, so passes take turns over the whole partition.
   */
  readonly mappedFrom: number
}

/**
 * A pass over `segments` (the partition's, oldest first; the last one takes appends and is only
 * read). Each key's latest offset is mapped from segment `newest` back, segment by segment, until
 * the map holds `maxKeys` keys; then the sealed segments up to `newest` are rewritten without the
 * records it shows superseded. A key the map does not hold keeps its records: a pass whose map
 * stopped early removes less, never a record whose key has no later one.
 *
 * A generator: it yields after each segment read or rewritten, so its caller can let appends and
 * reads run between (./compaction-schedule.ts), or run it through at once. A segment is read and
 * rewritten within one step: no step leaves a segment half done. A segment found damaged stops the
 * pass, rewriting nothing more (a read names the damage); a segment it fails to rewrite (a failing
 * disk) is left as it was.
 */
export function* compactSegments(
  segments: readonly PassSegment[],
  newest: number,
  settings: CompactionSettings,
  fsync: boolean,
  files: SegmentFiles,
  maxKeys: number,
): Generator<void, PassResult> {
  const latest = new Map<string, number>()
  let mappedFrom = newest + 1
  try {
    while (mappedFrom > 0 && latest.size < maxKeys) {
      mappedFrom--
      // Newest first: a key is set once, at its latest offset, unless this segment holds it later.
      for (const r of recordsIn(bytesOf(files, segments[mappedFrom]!)))
        if (r.key !== null && !(latest.get(r.key)! > r.offset)) latest.set(r.key, r.offset)
      yield
    }
  } catch (err: unknown) {
    if (err instanceof SegmentUnreadable) return { removed: 0, mappedFrom }
    throw err
  }
  const now = settings.nowMs()
  let removed = 0
  for (let i = 0; i <= Math.min(newest, segments.length - 2); i++) {
    const { segment } = segments[i]!
    const buf = bytesOf(files, segments[i]!)
    const last = segment.baseOffset + segment.count - 1
    const kept: RecordFacts[] = []
    let before = 0
    try {
      for (const r of recordsIn(buf)) {
        before++
        const age = now - r.timestampMs
        const superseded = r.key !== null && (latest.get(r.key) ?? -1) > r.offset && age >= settings.afterMs
        const expired = r.key !== null && r.tombstone && age >= settings.afterMs + TOMBSTONE_RETENTION_MS
        if (r.offset === last || !(superseded || expired)) kept.push(r)
      }
    } catch (err: unknown) {
      if (err instanceof SegmentUnreadable) return { removed, mappedFrom }
      throw err
    }
    if (kept.length < before && rewrite(segment, buf, kept, fsync, files)) removed += before - kept.length
    yield
  }
  return { removed, mappedFrom }
}

/** Runs a pass (compactSegments) through at once. */
export function runThrough<T>(pass: Generator<void, T>): T {
  for (;;) {
    const step = pass.next()
    if (step.done) return step.value
  }
}

/** Replaces the segment's file by its `kept` records; false when that failed (the segment is left as it was). */
function rewrite(segment: Segment, buf: Buffer, kept: readonly RecordFacts[], fsync: boolean, files: SegmentFiles): boolean {
  const out = Buffer.allocUnsafe(kept.reduce((n, r) => n + r.end - r.start, 0))
  const index = new SparseIndex()
  let at = 0
  for (const r of kept) {
    index.offer(r.offset - segment.baseOffset, at)
    at += buf.copy(out, at, r.start, r.end)
  }
  const tmp = `${segment.path}${COMPACTING_SUFFIX}`
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
  } catch {
    unlinkIfThere(tmp)
    return false
  }
  files.replaced(segment)
  // ino: the next open records the new file's; `replaced` is for a reader beside, whose index is its own.
  Object.assign(segment, { size: out.length, index, next: undefined, gaps: true, ino: undefined, replaced: false })
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
