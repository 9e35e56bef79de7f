/**
 * The embedded online store's journal: the rows changed since its file was last written, one JSON
 * line each, appended (and fsynced) by `sync()`. The store's file names the journal that continues
 * it. On load the lines apply in order, last wins — the order the rows landed in. A final piece
 * without its newline is an append that never returned (a torn tail) and is cut, as the embedded log
 * cuts a torn final write; any other line that does not read is damage (DATA_CORRUPT).
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
import { parseStoredJson } from '../../../core/stored-json.ts'
import { isJsonObject } from '../../../core/json-object.ts'
import type { StoreFiles } from './store-files.ts'

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

/** Appends `rows` and waits until they are on disk (not the journal's name: the caller fsyncs the directory). Returns the bytes appended. */
export async function appendJournal(files: StoreFiles, file: string, rows: readonly JournalRow[]): Promise<number> {
  if (rows.length === 0) return 0
  const text = rows.map((r) => `${JSON.stringify(r)}\n`).join('')
  await files.write(file, text, 'append')
  return Buffer.byteLength(text)
}

/** The journal's rows in order, the bytes they take, and whether a torn tail followed them; a missing journal is empty. */
export async function readJournal(
  files: StoreFiles,
  file: string,
): Promise<{ rows: JournalRow[]; bytes: number; torn: boolean }> {
  let text: string | undefined
  try {
    text = await files.read(file)
  } catch (err: unknown) {
    throw new SourceError('SOURCE_UNAVAILABLE', `cannot read online store journal ${file}`, { cause: err })
  }
  if (text === undefined) return { rows: [], bytes: 0, torn: false }
  const lines = text.split('\n')
  // The last piece is '' after a complete final line, or a torn append: cut either way.
  const tail = lines.pop() as string
  const rows = lines.map((line, i) =>
    parseStoredJson<JournalRow>(line, {
      what: `online store journal ${file} line ${i + 1}`,
      path: file,
      shape: 'a stored row',
      isValid: isJournalRow,
      advice: 'move it and the store file away and reload the online rows with kfs replay --online-from-offline',
      error: (message, options) => new SourceError('DATA_CORRUPT', message, options),
    }),
  )
  return { rows, bytes: Buffer.byteLength(text) - Buffer.byteLength(tail), torn: tail !== '' }
}
