/**
 * Small JSON state files (group offsets, topic metadata, transaction journals) replaced
 * atomically: write a temp file, fsync it, rename over the old one, fsync the directory (the rename
 * is durable only then: a machine crash could otherwise bring back the old content after the caller
 * went on, e.g. applied a transaction journal or acknowledged an offset commit). A reader after a
 * crash sees either the old or the new content, never a mix.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { syncDirSync } from '../../local-disk/sync-dir.ts'
import { parseStoredJson, sourceDamage, storedFileNotAFile } from '../../../core/stored-json.ts'

export function writeJsonAtomic(path: string, value: unknown, fsync: boolean): void {
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w')
  try {
    const buf = Buffer.from(JSON.stringify(value))
    let written = 0
    while (written < buf.length) written += writeSync(fd, buf, written, buf.length - written, written)
    if (fsync) fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  if (fsync) syncDirSync(dirname(path))
}

/** The file's value; `valid` checks its shape (a file of another shape is as damaged as one that is not JSON). */
export function readJson<T>(path: string, valid: (value: unknown) => boolean = () => true): T | undefined {
  const file = {
    what: `embedded log state file ${path}`,
    path,
    shape: 'the state it holds',
    isValid: valid,
    error: sourceDamage,
  }
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw storedFileNotAFile(err, file) ?? err
  }
  return parseStoredJson<T>(text, file)
}

/**
 * `err`, from reading the log's file `path`, as the error to throw: a directory where the file
 * belongs is damage (DATA_CORRUPT naming the file, with the way back); any other failure as it was.
 */
export function logFileReadFailure(err: unknown, path: string, what: string, advice: string): unknown {
  return (
    storedFileNotAFile(err, {
      what: `${what} ${path}`,
      path,
      advice,
      error: sourceDamage,
    }) ?? err
  )
}

export { fileNameFor } from '../../local-disk/file-name.ts'
