/**
 * Packed records (ports/event-log.ts `PackedRecords`) laid out in the segment format
 * (./record-format.ts), one buffer per partition: the same bytes `encodeRecords` writes for each
 * partition's records as `produce` routes them, without an object or a buffer per record. Each
 * record is routed by its key bytes (murmur2, as Kafka's default partitioner) and written at
 * once, its value's runs copied from where the producer has them straight into place (one copy
 * of each byte), so a run's bytes are fetched once, while the routing has them in cache.
 */
import { PACKED_RUN_FIELDS, type PackedRecords } from '../../../ports/event-log.ts'
import { murmur2 } from '../../../core/murmur2.ts'
import { copyBytes, crc32, RECORD_PREFIX_BYTES } from './record-format.ts'

/** offset (8), timestamp (8), key length (4), value length (4), header count (2). */
const FIXED_BYTES = 26

export interface PartitionShare {
  readonly buf: Buffer
  /** The whole buffer `buf` is the start of: a spare for a later framing once `buf` is written. */
  readonly room: Buffer
  /** Position of each record in `buf`. */
  readonly starts: Uint32Array
}

/** A partition's share while it is written: room for a fair share and a margin, regrown when a partition gets more. */
interface GrowingShare {
  buf: Buffer
  starts: Uint32Array
  count: number
  pos: number
}

/**
 * Each partition's records of `packed`, in packed order, numbered from `baseOffsets[p]` on;
 * undefined for a partition that gets none.
 */
export function encodePackedByPartition(
  packed: PackedRecords,
  baseOffsets: readonly number[],
  timestampMs: number,
  spares: Buffer[] = [],
): (PartitionShare | undefined)[] {
  const { sources, runs, runsPerRecord, count } = packed
  const stride = PACKED_RUN_FIELDS * runsPerRecord
  const partitions = baseOffsets.length
  // Sizes from the runs alone (the bytes are not read yet): a fair share of the total.
  const valueBytes = new Uint32Array(count)
  let total = 0
  for (let i = 0, at = 0; i < count; i++, at += stride) {
    let value = 0
    for (let r = at + PACKED_RUN_FIELDS; r < at + stride; r += PACKED_RUN_FIELDS) value += runs[r + 2]! - runs[r + 1]!
    valueBytes[i] = value
    total += RECORD_PREFIX_BYTES + FIXED_BYTES + runs[at + 2]! - runs[at + 1]! + value
  }
  const fairBytes = Math.ceil((1.25 * total) / partitions) + 1024
  const fairCount = Math.ceil((1.25 * count) / partitions) + 16
  const shares: (GrowingShare | undefined)[] = new Array<GrowingShare | undefined>(partitions).fill(undefined)
  // The produce time, the same for every record: its 8 bytes once.
  const time = Buffer.allocUnsafe(8)
  time.writeDoubleBE(timestampMs, 0)
  for (let i = 0, at = 0; i < count; i++, at += stride) {
    const keySource = sources[runs[at]!]!
    const keyStart = runs[at + 1]!
    const keyEnd = runs[at + 2]!
    const p = (murmur2(keySource, keyStart, keyEnd) & 0x7fffffff) % partitions
    const value = valueBytes[i]!
    const size = FIXED_BYTES + keyEnd - keyStart + value
    const share = (shares[p] ??= { buf: spareOf(spares, fairBytes), starts: new Uint32Array(fairCount), count: 0, pos: 0 })
    if (share.pos + RECORD_PREFIX_BYTES + size > share.buf.length) regrowBytes(share, RECORD_PREFIX_BYTES + size)
    if (share.count === share.starts.length) regrowStarts(share)
    const buf = share.buf
    const start = share.pos
    const n = share.count
    share.starts[n] = start
    const offset = baseOffsets[p]! + n
    // Big-endian fields byte by byte: Buffer's write methods cost a call and range checks each.
    putU32(buf, start, size)
    let pos = start + RECORD_PREFIX_BYTES
    putU32(buf, pos, Math.floor(offset / 2 ** 32))
    putU32(buf, pos + 4, offset >>> 0)
    for (let b = 0; b < 8; b++) buf[pos + 8 + b] = time[b]!
    putU32(buf, pos + 16, keyEnd - keyStart)
    pos += 20
    copyBytes(keySource, keyStart, keyEnd, buf, pos)
    pos += keyEnd - keyStart
    putU32(buf, pos, value)
    pos += 4
    for (let r = at + PACKED_RUN_FIELDS; r < at + stride; r += PACKED_RUN_FIELDS) {
      const from = runs[r + 1]!
      const to = runs[r + 2]!
      if (from === to) continue
      copyBytes(sources[runs[r]!]!, from, to, buf, pos)
      pos += to - from
    }
    buf[pos] = 0
    buf[pos + 1] = 0
    pos += 2
    putU32(buf, start + 4, crc32(buf, start + RECORD_PREFIX_BYTES, pos))
    share.pos = pos
    share.count = n + 1
  }
  return shares.map(
    (share) => share && { buf: share.buf.subarray(0, share.pos), room: share.buf, starts: share.starts.subarray(0, share.count) },
  )
}

/** A spare of at least `bytes` (taken off the list), or a new buffer. */
function spareOf(spares: Buffer[], bytes: number): Buffer {
  for (let i = spares.length - 1; i >= 0; i--) {
    const spare = spares[i]!
    if (spare.length < bytes) continue
    spares[i] = spares[spares.length - 1]!
    spares.pop()
    return spare
  }
  return Buffer.allocUnsafe(bytes)
}

function regrowBytes(share: GrowingShare, more: number): void {
  const grown = Buffer.allocUnsafe(Math.max(2 * share.buf.length, share.pos + more))
  share.buf.copy(grown, 0, 0, share.pos)
  share.buf = grown
}

function regrowStarts(share: GrowingShare): void {
  const grown = new Uint32Array(2 * share.starts.length)
  grown.set(share.starts)
  share.starts = grown
}

function putU32(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24
  buf[at + 1] = value >>> 16
  buf[at + 2] = value >>> 8
  buf[at + 3] = value
}
