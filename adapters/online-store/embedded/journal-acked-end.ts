/**
 * How far the embedded online store's journal was acknowledged: after each append (and its
 * datasync) `sync()` records the journal's name, its length and the CRC-32 of its bytes, and only
 * then returns. Without the record a journal cut back to an earlier sync mark, emptied or deleted
 * looked like one whose last appends never returned, and loading it silently dropped rows a
 * checkpoint had counted as durable. With it, load refuses (DATA_CORRUPT) a journal that is shorter
 * than the record or whose first `bytes` are not the bytes acknowledged; bytes after the recorded
 * end are an append whose sync never returned, cut when torn as before (row-journal.ts).
 *
 * The record lives in two slot files beside the store file (`<file>.acked-0`, `<file>.acked-1`),
 * written in turn, each replaced whole and datasynced: a crash tears at most the slot being
 * written, and the other still holds the previous record — the end of the sync before, which is all
 * that was acknowledged then. The writer never writes the slot holding the newest readable record.
 * Both slots are made durable (names included) before any store file that relies on them (its
 * `acked` flag): so a flagged store whose slots both fail to read is damage, never a crash. A record
 * naming another journal than the file's says nothing about the file's journal (the file was
 * replaced since, and nothing has been acknowledged in its new journal yet).
 *
 * Cost: one ~100-byte write and datasync per sync that appended (a sync runs once per checkpoint),
 * about what the journal's own append costs (measured on ext4: ~0.6 ms each; overwriting the slot
 * in place would save ~0.2 ms but a truncating replace keeps the port's one write mode); the CRC
 * runs over the appended bytes only; nothing on the write path. Load reads the journal's bytes once
 * more for their CRC; a follower's polls read nothing more (a reload reads the two slots).
 *
 * Why not the sync marks alone: a journal cut back to a mark is a well-formed shorter journal; and
 * not the store file: it is rewritten only when the journal is folded.
 */
import zlib from 'node:zlib'
import { SourceError } from '../../../core/errors.ts'
import { isJsonObject } from '../../../core/json-object.ts'
import { storeFileReadFailure } from './store-files.ts'

/** The acknowledged end of one journal: its first `bytes` bytes have the CRC-32 `crc`. */
export interface AckedEnd {
  readonly journal: string
  readonly bytes: number
  readonly crc: number
}

/** The record a slot holds: undefined when the slot is missing or does not read (a torn write, damage). */
export type AckSlot = AckedEnd | undefined

export const ACK_ADVICE =
  'move the store file, its journal and its .acked-0/.acked-1 files away and reload the online rows with kfs replay --online-from-offline'

/** The two slot files of the store file at `path`. */
export function ackSlotPaths(path: string): readonly [string, string] {
  return [`${path}.acked-0`, `${path}.acked-1`]
}

/** CRC-32 of `text`'s UTF-8 bytes, continuing `crc` (the CRC of the bytes before them). */
export function crcOf(text: string | Uint8Array, crc = 0): number {
  return zlib.crc32(text, crc)
}

function checkOf(end: AckedEnd): number {
  return crcOf(`${end.journal}\n${end.bytes}\n${end.crc}`)
}

export function encodeAck(end: AckedEnd): string {
  return `${JSON.stringify({ journal: end.journal, bytes: end.bytes, crc: end.crc, check: checkOf(end) })}\n`
}

export function decodeAck(text: string | undefined): AckSlot {
  if (text === undefined) return undefined
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isJsonObject(v) || typeof v.journal !== 'string' || !Number.isSafeInteger(v.bytes) || !Number.isSafeInteger(v.crc))
    return undefined
  const end = { journal: v.journal, bytes: v.bytes as number, crc: v.crc as number }
  return end.bytes >= 0 && v.check === checkOf(end) ? end : undefined
}

/** What each slot holds: its text (undefined when missing) and the record it reads as. */
export type AckSlots = readonly [
  { readonly text: string | undefined; readonly record: AckSlot },
  { readonly text: string | undefined; readonly record: AckSlot },
]

/** Both slots of the store file at `path`, read with `read` (a directory in a slot's place is damage). */
export async function readAckSlots(path: string, read: (slot: string) => Promise<string | undefined>): Promise<AckSlots> {
  const out = []
  for (const slot of ackSlotPaths(path)) {
    let text: string | undefined
    try {
      text = await read(slot)
    } catch (err: unknown) {
      throw storeFileReadFailure(err, { what: `online store acknowledged-end file ${slot}`, path: slot, advice: ACK_ADVICE })
    }
    out.push({ text, record: decodeAck(text) })
  }
  return [out[0]!, out[1]!]
}

/**
 * The acknowledged end of `journal` that the slots record: the longest readable record naming it,
 * or undefined when none does (nothing acknowledged in it yet). Both slots unreadable is damage:
 * they were durable before the file relying on them, and a crash tears one at most.
 */
export function ackedEndOf(path: string, slots: AckSlots, journal: string): AckedEnd | undefined {
  const records = slots.map((s) => s.record)
  if (records.every((r) => r === undefined)) {
    const [a, b] = ackSlotPaths(path)
    throw new SourceError(
      'DATA_CORRUPT',
      `online store acknowledged-end files ${a} and ${b} are both missing or damaged, so how much of the journal of ${path} was acknowledged is unknown: ${ACK_ADVICE}`,
      { context: { path: a } },
    )
  }
  const named = records.filter((r): r is AckedEnd => r?.journal === journal)
  return named.reduce<AckedEnd | undefined>((best, s) => (best === undefined || s.bytes > best.bytes ? s : best), undefined)
}

/** The slot to write next: one that does not read, else the one not holding the newest record of `journal`. */
export function nextAckSlot(slots: AckSlots, journal: string | undefined): 0 | 1 {
  const [a, b] = [slots[0].record, slots[1].record]
  if (a === undefined) return 0
  if (b === undefined) return 1
  return a.journal === journal && (b.journal !== journal || a.bytes > b.bytes) ? 1 : 0
}

/**
 * Checks that `text` (the journal `file` as read; undefined when there is none) holds the
 * acknowledged end `end`; throws DATA_CORRUPT naming the journal when it does not. Returns the
 * acknowledged bytes' length, as text characters, for the caller to read on from. `pinpoint` is
 * shown acknowledged bytes that differ from those written before the error is thrown: it may throw
 * one naming the line that does not read (a line that reads but differs has no place to name).
 */
export function checkAckedEnd(
  file: string,
  text: string | undefined,
  end: AckedEnd | undefined,
  pinpoint: (acked: string) => void = () => {},
): number {
  if (end === undefined || end.bytes === 0) return 0
  const fail = (why: string) =>
    new SourceError('DATA_CORRUPT', `online store journal ${file} is damaged (${why}): ${ACK_ADVICE}`, {
      context: { path: file },
    })
  if (text === undefined) throw fail(`missing while the store file names it, and ${end.bytes} bytes of it were acknowledged`)
  const bytes = Buffer.from(text)
  if (bytes.length < end.bytes) throw fail(`${bytes.length} bytes, fewer than the ${end.bytes} its syncs acknowledged`)
  const acked = bytes.subarray(0, end.bytes)
  if (crcOf(acked) !== end.crc || acked.at(-1) !== 0x0a) {
    pinpoint(acked.toString('utf8'))
    throw fail(`its first ${end.bytes} bytes are not the bytes its syncs acknowledged`)
  }
  return acked.toString('utf8').length
}
