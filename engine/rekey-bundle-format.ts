/**
 * The bytes of a bundle (docs/semantics.md §16; what a bundle is and why: rekey-bundle.ts), shared
 * by its writer (rekey-bundle-writer.ts) and its reader (rekey-bundle-reader.ts).
 *
 * Every version starts with the same head: magic 0xFF 'k' 'f' 'b' · u8 version · u32 event count
 * (big-endian; written last, so a fixed width). No record written before bundles starts with the
 * magic — the stage forwarded only values that decoded, whose first byte is the Confluent frame's
 * 0x00 or a JSON text's — so a reader tells a bundle from a legacy single record by its first
 * bytes, and old internal topics stay readable.
 *
 * Version 2 (written now). Per event:
 *   varint key length + 1 (0: null) · key · varint value length + 1 (0: null) · value ·
 *   varint header count · per header: name ref · value ref
 * - name ref: varint index into the bundle's name table; equal to the table's size, a new name
 *   follows (varint length · UTF-8) and joins the table. A bundle spells each header name once.
 * - value ref: varint v; its low two bits (v mod 4) say the kind, the rest (⌊v / 4⌋ = n) its data:
 *   0 literal: n bytes of UTF-8 follow · 1 interned: entry n of the bundle's value table ·
 *   2 new: n bytes of UTF-8 follow and join the value table · 3 integer: the decimal text of
 *   base + zigzag⁻¹(n), where base is the last integer of the same name written after the same
 *   text as this header's predecessor in its event ('' for an event's first header), 0 before any.
 *   The writer interns short texts (the topic, a change role), writes canonical decimals below
 *   10¹⁵ as integers (a partition; an offset as the step from the last offset of the same source
 *   partition: the header before it is the partition) and longer texts as literals.
 * Varints are unsigned LEB128 (7 bits a byte, least significant first), at most 8 bytes (< 2⁵³).
 * An event thus costs its key, its value and a few bytes: 9 with three origin headers (the
 * lengths, the header count, three name refs, the topic interned, the partition and the offset step).
 *
 * Version 1 (internal topics written before; still read). Per event, big-endian:
 *   i32 key length (−1: null) · key · i32 value length (−1: null) · value ·
 *   u16 header count · per header: u32 name length · name (UTF-8) · u32 value length · value (UTF-8)
 * — every header name, topic and offset spelled out per event: ≈ 110 of an event's ≈ 160 bytes.
 *
 * Both versions read to the same events: keys and values as bytes, headers as text, in order.
 */
import type { SourceRecord } from '../ports/source.ts'

export const MAGIC = [0xff, 0x6b, 0x66, 0x62] as const
/** The version the writer writes. */
export const BUNDLE_VERSION = 2
/** Magic, version, event count. */
export const BUNDLE_HEAD_BYTES = 9
/** Digits of an event's index in its order key: more than any bundle may hold (see `eventOrder`). */
const ORDER_DIGITS = 6
export const MAX_EVENTS = 10 ** ORDER_DIGITS - 1

/** A header value's kind in version 2: the low two bits of its varint. */
export const VALUE_LITERAL = 0
export const VALUE_INTERNED = 1
export const VALUE_NEW = 2
export const VALUE_INTEGER = 3
/** Integer header values stay below this (15 digits), so every varint stays a safe integer. */
export const INTEGER_LIMIT = 10 ** 15

/** One event of a partition as a view processes it: a plain record, or one event of a bundle. */
export interface PartitionEvent extends SourceRecord {
  /**
   * The event's place among the partition's events, a decimal that orders like the events (what
   * first/last/last_n break event-time ties by): absent, the record's offset. Events of a bundle
   * share its offset, so theirs is `eventOrder(offset, index)`.
   */
  readonly order?: string
}

/**
 * offset·10^6 + index, as decimal text: every event of a bundle at offset o lies after the events
 * of any record before o and before those of any record after o, in the order of the bundle.
 */
export function eventOrder(offset: string, index: number): string {
  return offset + String(index).padStart(ORDER_DIGITS, '0')
}

export function isBundle(value: Uint8Array | null): value is Uint8Array {
  return (
    value !== null &&
    value.length >= 4 &&
    value[0] === MAGIC[0] &&
    value[1] === MAGIC[1] &&
    value[2] === MAGIC[2] &&
    value[3] === MAGIC[3]
  )
}
