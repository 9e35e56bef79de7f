/**
 * The embedded online store's file: `{ format, rows, journal, framed, acked }` in one JSON document, read
 * back with damage named (DATA_CORRUPT, with the way back) and another format refused as
 * SCHEMA_UNKNOWN rather than taken for damage.
 */
import { SourceError } from '../../../core/errors.ts'
import { isJsonObject } from '../../../core/json-object.ts'
import { parseStoredJson, sourceDamage } from '../../../core/stored-json.ts'
import { isJournalRow, type JournalRow } from './row-journal.ts'
import { storeFileReadFailure } from './store-files.ts'

export interface FileLayout {
  readonly format: 'kfs-online-store/1'
  readonly rows: JournalRow[]
  /** The journal continuing this file (a file name beside it); absent in files written before journals. */
  readonly journal?: string
  /** The journal ends each append with a sync mark (row-journal.ts); absent in files written before marks. */
  readonly framed?: boolean
  /** The journal's acknowledged end is recorded beside the file (journal-acked-end.ts); absent in files written before that. */
  readonly acked?: boolean
}

/** An object; when of this format, with rows of {key, asOfMs, expiresAtMs, fields of text} (another format is SCHEMA_UNKNOWN, not damage). */
function isLayout(v: unknown): boolean {
  if (!isJsonObject(v)) return false
  if (v.format !== 'kfs-online-store/1') return true
  return (
    Array.isArray(v.rows) &&
    v.rows.every(isJournalRow) &&
    (v.journal === undefined || typeof v.journal === 'string') &&
    (v.framed === undefined || typeof v.framed === 'boolean') &&
    (v.acked === undefined || typeof v.acked === 'boolean')
  )
}

function storeFile(path: string) {
  // The way back from a damaged file: the offline tables hold the rows.
  return {
    what: `online store file ${path}`,
    path,
    shape: 'an online store file',
    isValid: isLayout,
    advice: 'move it away and reload the online rows with kfs replay --online-from-offline',
    error: sourceDamage,
  }
}

/** The error for a failed read of the store file: a directory in its place is damage (DATA_CORRUPT), anything else may pass. */
export function storeReadFailure(path: string, err: unknown): SourceError {
  return storeFileReadFailure(err, storeFile(path))
}

/** The store file at `path`, whose text is `text`. */
export function parseLayout(path: string, text: string): FileLayout {
  const layout = parseStoredJson<FileLayout>(text, storeFile(path))
  if (layout.format !== 'kfs-online-store/1') {
    throw new SourceError('SCHEMA_UNKNOWN', `online store file ${path} has an unknown format`)
  }
  return layout
}
