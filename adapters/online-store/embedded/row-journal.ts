/**
 * The embedded online store's journal: the rows changed since its file was last written, one JSON
 * line each, appended (and fsynced) by `sync()`, each append ending with a sync mark (`SYNC_MARK`).
 * The store's file names the journal that continues it. On load the rows up to the last mark apply
 * in order, last wins — the order the rows landed in. Whatever follows the last mark is an append
 * that never returned (its sync was not acknowledged): a torn tail, whatever it holds — cut bytes,
 * or a line a machine crash left zero-filled because a later page of the append reached the disk
 * before an earlier one. It is cut, as the embedded log cuts a torn final write; so is the last
 * marked batch when the journal ends with it and a line of it does not read (its mark reached the
 * disk, an earlier page did not: zeros never read as a row). A line that does not read anywhere
 * else is damage to an acknowledged sync (DATA_CORRUPT) — as is damage in the last batch once
 * another append follows it (that append began only after the batch's sync had returned). A journal of a
 * file written before marks (no `framed` in the file) reads as before: only a final piece without
 * its newline is torn.
 *
 * Marks alone cannot tell a torn tail from acknowledged batches lost at the end: a journal cut back
 * to an earlier mark, emptied or deleted reads as a shorter journal. So each sync also records the
 * journal's acknowledged end (its length and CRC, journal-acked-end.ts), and a journal that does
 * not hold its recorded end is damage (DATA_CORRUPT naming it); only bytes after that end can be a
 * torn tail, cut as above.
 *
 * The mark is shaped as a row (a key no view can have, expired at 0): a kfs from before marks reads
 * it as a row that has expired, so a downgrade still opens the store.
 *
 * Any other journal beside the file (`<file>.journal-…` not named by it) is older than the file: a
 * journal is created only by the first append after the file naming it is durable, and the file
 * that replaces it is written from memory, which holds every row the journal had. Such a journal is
 * left by a crash between writing a file and removing the old journal; recovery
 * (embedded-online-store.ts) deletes it without applying it — its rows are in the file, and
 * applying them could only bring back a row a newer one replaced (a tie on `as_of` where the later
 * row won, or a row that expired before a lower `as_of` landed).
 */
import { basename, dirname, join } from 'node:path'
import { SourceError } from '../../../core/errors.ts'
import { parseStoredJson, sourceDamage } from '../../../core/stored-json.ts'
import { isJsonObject } from '../../../core/json-object.ts'
import { storeFileReadFailure, type StoreFiles } from './store-files.ts'
import { checkAckedEnd, crcOf, type AckedEnd } from './journal-acked-end.ts'

export interface JournalRow {
  readonly key: string
  readonly asOfMs: number
  readonly expiresAtMs: number
  readonly fields: Record<string, string>
}

export function isJournalRow(r: unknown): r is JournalRow {
  return (
    isJsonObject(r) &&
    typeof r.key === 'string' &&
    typeof r.asOfMs === 'number' &&
    typeof r.expiresAtMs === 'number' &&
    isJsonObject(r.fields) &&
    Object.values(r.fields).every((x) => typeof x === 'string')
  )
}

/** Ends every append: the rows before it were synced together. */
const SYNC_MARK: JournalRow = { key: '\u0000synced', asOfMs: 0, expiresAtMs: 0, fields: {} }
const MARK_LINE = JSON.stringify(SYNC_MARK)

let made = 0

/** The prefix of every journal name of the store file at `path`. */
export function journalPrefix(path: string): string {
  return `${basename(path)}.journal-`
}

/** A fresh journal name for the store file at `path` (a file name beside it, never a path). */
export function newJournalName(path: string): string {
  return `${journalPrefix(path)}${Date.now()}-${process.pid}-${made++}`
}

/** The journal `name` beside the store file at `path`. */
export function journalPath(path: string, name: string): string {
  // Only a plain file name: the store file is not trusted to point elsewhere.
  if (name !== basename(name) || name === '' || name === '.' || name === '..') {
    throw new SourceError(
      'DATA_CORRUPT',
      `online store file ${path} names the journal ${JSON.stringify(name)}, which is not a file name beside it: move it away and reload the online rows with kfs replay --online-from-offline`,
    )
  }
  return join(dirname(path), name)
}

/** Appends `rows` and waits until they are on disk (not the journal's name: the caller fsyncs the directory). Returns the text appended. */
export async function appendJournal(files: StoreFiles, file: string, rows: readonly JournalRow[]): Promise<string> {
  if (rows.length === 0) return ''
  const text = `${rows.map((r) => `${JSON.stringify(r)}\n`).join('')}${MARK_LINE}\n`
  await files.write(file, text, 'append')
  return text
}

/**
 * The journal's acknowledged rows in order, the bytes they take (and their CRC-32), and whether a
 * torn tail followed them; a missing journal is empty. `framed`: written with sync marks (the file
 * says so). `acked`: the end its syncs acknowledged (journal-acked-end.ts), when recorded: a
 * journal that does not hold it is damage, never read as a shorter one.
 */
export async function readJournal(
  files: StoreFiles,
  file: string,
  framed: boolean,
  acked?: AckedEnd,
): Promise<{ rows: JournalRow[]; bytes: number; crc: number; lines: number; torn: boolean }> {
  let text: string | undefined
  try {
    text = await files.read(file)
  } catch (err: unknown) {
    throw storeFileReadFailure(err, {
      what: `online store journal ${file}`,
      path: file,
      advice: 'move the store file and its journal away and reload the online rows with kfs replay --online-from-offline',
    })
  }
  if (text === undefined) {
    checkAckedEnd(file, undefined, acked)
    return { rows: [], bytes: 0, crc: 0, lines: 0, torn: false }
  }
  const read = parseJournal(file, text, framed, 0, acked)
  return { ...read, crc: crcOf(Buffer.from(text).subarray(0, read.bytes)) }
}

/**
 * readJournal's reading of `text`: the journal, or the part of it from just after a sync mark on
 * (a follower reading what the writer appended since it last read; `firstLine`: the line `text`
 * starts at, for the place a damaged line is named by). With `acked` (a whole journal only), the
 * acknowledged bytes are checked against it and read whole; only what follows them can be torn.
 */
export function parseJournal(
  file: string,
  text: string,
  framed: boolean,
  firstLine = 0,
  acked?: AckedEnd,
): { rows: JournalRow[]; bytes: number; lines: number; torn: boolean } {
  // Acknowledged bytes that differ: a line of them that does not read is named with its place.
  const ackedChars = checkAckedEnd(file, text, acked, (head) =>
    head
      .split('\n')
      .slice(0, -1)
      .forEach((line, i) => line !== MARK_LINE && parseRow(file, line, firstLine + i)),
  )
  if (ackedChars > 0) {
    // Every line of the acknowledged bytes reads (their CRC matched what the writer appended).
    const head = text.slice(0, ackedChars).split('\n').slice(0, -1)
    const rows = head.flatMap((line, i) => (line === MARK_LINE ? [] : [parseRow(file, line, firstLine + i)]))
    const rest = parseJournal(file, text.slice(ackedChars), framed, firstLine + head.length)
    const bytes = Buffer.byteLength(text.slice(0, ackedChars))
    return { rows: [...rows, ...rest.rows], bytes: bytes + rest.bytes, lines: head.length + rest.lines, torn: rest.torn }
  }
  const pieces = text.split('\n')
  // The last piece is '' after a complete final line, or a torn append: cut either way.
  let complete = pieces.slice(0, -1)
  if (framed) {
    // The last append may be the marked batch itself (its mark reached the disk, an earlier page
    // of it did not): when nothing follows it, a line of it that does not read cuts it whole.
    // When something follows it, the next append had begun, so its sync had returned: damage.
    const last = complete.lastIndexOf(MARK_LINE)
    const before = last > 0 ? complete.lastIndexOf(MARK_LINE, last - 1) : -1
    const endsAtMark = last === complete.length - 1 && pieces.at(-1) === ''
    const lastBatch = complete.slice(before + 1, last)
    complete = complete.slice(0, endsAtMark && !lastBatch.every(readsAsRow) ? before + 1 : last + 1)
  }
  const bytes = complete.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0)
  const rows: JournalRow[] = []
  complete.forEach((line, i) => {
    if (line !== MARK_LINE) rows.push(parseRow(file, line, firstLine + i))
  })
  return { rows, bytes, lines: complete.length, torn: bytes < Buffer.byteLength(text) }
}

function readsAsRow(line: string): boolean {
  try {
    return isJournalRow(JSON.parse(line))
  } catch {
    return false
  }
}

function parseRow(file: string, line: string, i: number): JournalRow {
  return parseStoredJson<JournalRow>(line, {
    what: `online store journal ${file} line ${i + 1}`,
    path: file,
    shape: 'a stored row',
    isValid: isJournalRow,
    advice: 'move it and the store file away and reload the online rows with kfs replay --online-from-offline',
    error: sourceDamage,
  })
}
