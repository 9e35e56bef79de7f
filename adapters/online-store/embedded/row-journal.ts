/**
 * The embedded online store's journal: the rows changed since its file was last written, one JSON
 * line each, appended (and fsynced) by `sync()`. The store's file names the journal that continues
 * it, so a journal left beside a newer file (a crash between writing the file and removing the old
 * journal) is never applied over rows it predates. On load the lines apply in order, last wins —
 * the order the rows landed in. A final line without its newline is an append that never returned
 * and is cut, as the embedded log cuts a torn final write; any other line that does not read is
 * damage (DATA_CORRUPT).
 */
import { open, readFile, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { SourceError } from '../../../core/errors.ts'
import { parseStoredJson } from '../../../core/stored-json.ts'
import { isJsonObject } from '../../../core/json-object.ts'

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

/** A fresh journal name for the store file at `path` (a file name beside it, never a path). */
export function newJournalName(path: string): string {
  return `${basename(path)}.journal-${Date.now()}-${process.pid}-${made++}`
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

/** Appends `rows` and waits until they are on disk. Returns the bytes appended. */
export async function appendJournal(file: string, rows: readonly JournalRow[]): Promise<number> {
  if (rows.length === 0) return 0
  const text = rows.map((r) => `${JSON.stringify(r)}\n`).join('')
  const handle = await open(file, 'a')
  try {
    await handle.writeFile(text)
    await handle.datasync()
  } finally {
    await handle.close()
  }
  return Buffer.byteLength(text)
}

/** The journal's rows in order, and its size; a missing journal is empty. */
export async function readJournal(file: string): Promise<{ rows: JournalRow[]; bytes: number }> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { rows: [], bytes: 0 }
    throw new SourceError('SOURCE_UNAVAILABLE', `cannot read online store journal ${file}`, { cause: err })
  }
  const lines = text.split('\n')
  // The last piece is '' after a complete final line, or a torn append: cut either way.
  lines.pop()
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
  return { rows, bytes: Buffer.byteLength(text) }
}

export async function removeJournal(file: string): Promise<void> {
  await rm(file, { force: true })
}
