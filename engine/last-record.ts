/**
 * The fingerprint of the last record before a checkpoint's position, and what the first read after
 * a restore says about it (docs/semantics.md §17, "A topic re-created with more records").
 *
 * A position alone cannot tell the log it was taken on from a log re-created under the same name
 * that has grown past it: the engine would read on from the old position and never see the new
 * log's first records. So each checkpoint also names the record just before its position — its
 * offset, a CRC-32 of its key and value, its timestamp — and a restore reads from that offset: the
 * record found there must be the one named. Kafka's topic ids would say it directly, but not every
 * client exposes them (kafkajs does not), and a timestamp lookup depends on clocks.
 */
import { crc32 } from 'node:zlib'
import type { SourceRecord } from '../ports/source.ts'

export interface LastRecord {
  /** The record's offset: the last record before the checkpoint's position. */
  readonly offset: string
  /** CRC-32 (IEEE) of the key's length (4 bytes, big-endian; null as empty), the key, then the value. */
  readonly crc32: number
  /** The record's timestamp (Kafka CreateTime). */
  readonly timestampMs: number
}

const EMPTY = new Uint8Array(0)

export function lastRecordOf(record: SourceRecord): LastRecord {
  const key = record.key ?? EMPTY
  const length = new Uint8Array(4)
  new DataView(length.buffer).setUint32(0, key.length)
  const crc = crc32(record.value ?? EMPTY, crc32(key, crc32(length)))
  return { offset: record.offset, crc32: crc, timestampMs: record.timestampMs }
}

/** A well-formed fingerprint (a checkpoint record is JSON read back: anything else is not used). */
export function isLastRecord(v: unknown): v is LastRecord {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return (
    typeof r.offset === 'string' &&
    /^\d+$/.test(r.offset) &&
    Number.isInteger(r.crc32) &&
    (r.crc32 as number) >= 0 &&
    (r.crc32 as number) <= 0xffffffff &&
    Number.isFinite(r.timestampMs)
  )
}

/**
 * What a batch read while the check of `expected` is pending says, from where the read started
 * (`from`: the batch's span start, or its first record) and its records:
 * - `matched`: the record at the fingerprinted offset is the one named;
 * - `differs`: a record is there, another one (key, value or timestamp differ);
 * - `before`: every record lies before the offset (a batch read from an earlier position): no answer yet;
 * - `absent`: the read started at or before the offset, and its first record from there lies past it —
 *   the offset holds no record this reader is given (deleted, compacted away, or another log's marker);
 * - `elsewhere`: the read started past the offset (fetched from another position, or the client
 *   reset an offset out of range to the log's start).
 * The last two need the log's start offset to decide (resume-check.ts).
 */
export type FirstRead =
  | { readonly kind: 'matched' }
  | { readonly kind: 'differs'; readonly found: SourceRecord }
  | { readonly kind: 'before' }
  | { readonly kind: 'absent'; readonly found: SourceRecord }
  | { readonly kind: 'elsewhere'; readonly from: string }

export function firstRead(expected: LastRecord, from: string, records: readonly SourceRecord[]): FirstRead {
  const at = BigInt(expected.offset)
  if (BigInt(from) > at) return { kind: 'elsewhere', from }
  const found = records.find((r) => BigInt(r.offset) >= at)
  if (found === undefined) return { kind: 'before' }
  if (BigInt(found.offset) > at) return { kind: 'absent', found }
  const seen = lastRecordOf(found)
  return seen.crc32 === expected.crc32 && seen.timestampMs === expected.timestampMs
    ? { kind: 'matched' }
    : { kind: 'differs', found }
}
