/**
 * A JSON file kfs wrote itself (state, records, the embedded stores), parsed and checked. Such a
 * file is written whole (replaced atomically, or created once), so one that is not JSON, or not of
 * its shape, is damage on disk or an edit by hand: it fails as DATA_CORRUPT (or the caller's code)
 * with one message naming the file and the way back — never a SyntaxError's or TypeError's stack,
 * never read as if it were absent or empty.
 */
import { FeatureStoreError, SourceError, type ErrorContext } from './errors.ts'

export interface StoredJsonFile {
  /** What and where, as the message starts: `checkpoint record checkpoints/…/ckpt-…json`. */
  readonly what: string
  /** The path or key, for the error's context. */
  readonly path: string
  /** What a valid file holds, for the message: `a checkpoint record`. */
  readonly shape: string
  readonly isValid: (value: unknown) => boolean
  /** The way back, ending the message (default: restore it from a copy). */
  readonly advice?: string
  /** The error to throw (default: a FeatureStoreError with code DATA_CORRUPT). */
  readonly error?: (message: string, options: { cause?: unknown; context: ErrorContext }) => FeatureStoreError
}

type NamedFile = Pick<StoredJsonFile, 'what' | 'path' | 'advice' | 'error'>

/** `error` for a file that is a source's own state (the embedded log's, the online store's): its damage is a SourceError. */
export function sourceDamage(message: string, options: { cause?: unknown; context: ErrorContext }): FeatureStoreError {
  return new SourceError('DATA_CORRUPT', message, options)
}

function damaged(file: NamedFile, why: string, cause?: unknown): FeatureStoreError {
  const message = `${file.what} is damaged (${why}): ${file.advice ?? 'restore it from a copy'}`
  const options = { ...(cause === undefined ? {} : { cause }), context: { path: file.path } }
  return file.error?.(message, options) ?? new FeatureStoreError('DATA_CORRUPT', message, options)
}

/**
 * A failed read of the file that is damage, not a passing fault: a directory where the file belongs
 * (EISDIR), or a file where one of its directories belongs (ENOTDIR). As the file's DATA_CORRUPT,
 * naming it — Node's own EISDIR message names no path, and a retriable error would retry forever;
 * undefined for any other failure (the caller's to classify).
 */
export function storedFileNotAFile(err: unknown, file: NamedFile): FeatureStoreError | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code
  if (code === 'EISDIR') return damaged(file, 'a directory, not a file', err)
  if (code === 'ENOTDIR') return damaged(file, 'a file stands where one of its directories belongs', err)
  return undefined
}

export function parseStoredJson<T>(text: string, file: StoredJsonFile): T {
  const fail = (why: string, cause?: unknown): FeatureStoreError => damaged(file, why, cause)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err: unknown) {
    throw fail('not JSON', err)
  }
  if (!file.isValid(value)) throw fail(`not ${file.shape}`)
  return value as T
}
