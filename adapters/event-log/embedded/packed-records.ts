/**
 * Packed records (ports/event-log.ts `PackedRecords`) laid out in the segment format
 * (./record-format.ts), one buffer per partition: the same bytes `encodeRecords` writes for each
 * partition's records as `produce` routes them, without an object or a buffer per record. One pass
 * routes every record by its key bytes (murmur2, as Kafka's default partitioner) and sizes each
 * partition's share; a second writes the records, copying each value's runs from where the
 * producer has them straight into place (one copy of each byte, not two).
 */
import { PACKED_RUN_FIELDS, type PackedRecords } from '../../../ports/event-log.ts'
import { murmur2 } from '../../../core/murmur2.ts'
import { copyBytes, crc32, RECORD_PREFIX_BYTES } from './record-format.ts'

/** offset (8), timestamp (8), key length (4), value length (4), header count (2). */
const FIXED_BYTES = 26

export interface PartitionShare {
  readonly buf: Buffer
  /** Position of each record in `buf`. */
  readonly starts: Uint32Array
}

/**
 * Each partition's records of `packed`, in packed order, numbered from `baseOffsets[p]` on;
 * undefined for a partition that gets none.
 */
export function encodePackedByPartition(
  packed: PackedRecords,
  baseOffsets: readonly number[],
  timestampMs: number,
): (PartitionShare | undefined)[] {
  const { sources, runs, runsPerRecord, count } = packed
  const stride = PACKED_RUN_FIELDS * runsPerRecord
  const partitions = baseOffsets.length
  const partitionOf = new Uint32Array(count)
  const valueBytes = new Uint32Array(count)
  const sizes = new Float64Array(partitions)
  const counts = new Uint32Array(partitions)
  for (let i = 0, at = 0; i < count; i++, at += stride) {
    const p = (murmur2(sources[runs[at]!]!, runs[at + 1]!, runs[at + 2]!) & 0x7fffffff) % partitions
    partitionOf[i] = p
    counts[p]!++
    let value = 0
    for (let r = at + PACKED_RUN_FIELDS; r < at + stride; r += PACKED_RUN_FIELDS) value += runs[r + 2]! - runs[r + 1]!
    valueBytes[i] = value
    sizes[p]! += RECORD_PREFIX_BYTES + FIXED_BYTES + runs[at + 2]! - runs[at + 1]! + value
  }
  const shares: (PartitionShare | undefined)[] = []
  const filled = new Uint32Array(partitions)
  const written = new Float64Array(partitions)
  for (let p = 0; p < partitions; p++)
    shares.push(counts[p] === 0 ? undefined : { buf: Buffer.allocUnsafe(sizes[p]!), starts: new Uint32Array(counts[p]!) })
  // The produce time, the same for every record: its 8 bytes once.
  const time = Buffer.allocUnsafe(8)
  time.writeDoubleBE(timestampMs, 0)
  for (let i = 0, at = 0; i < count; i++, at += stride) {
    const p = partitionOf[i]!
    const share = shares[p]!
    const buf = share.buf
    const start = written[p]!
    const n = filled[p]!
    share.starts[n] = start
    const keyStart = runs[at + 1]!
    const keyEnd = runs[at + 2]!
    const value = valueBytes[i]!
    const offset = baseOffsets[p]! + n
    // Big-endian fields byte by byte: Buffer's write methods cost a call and range checks each.
    putU32(buf, start, FIXED_BYTES + keyEnd - keyStart + value)
    let pos = start + RECORD_PREFIX_BYTES
    putU32(buf, pos, Math.floor(offset / 2 ** 32))
    putU32(buf, pos + 4, offset >>> 0)
    for (let b = 0; b < 8; b++) buf[pos + 8 + b] = time[b]!
    putU32(buf, pos + 16, keyEnd - keyStart)
    pos += 20
    copyBytes(sources[runs[at]!]!, keyStart, keyEnd, buf, pos)
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
    written[p] = pos
    filled[p] = n + 1
  }
  return shares
}

function putU32(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24
  buf[at + 1] = value >>> 16
  buf[at + 2] = value >>> 8
  buf[at + 3] = value
}
