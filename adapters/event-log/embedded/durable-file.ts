/**
 * Small JSON state files (group offsets, topic metadata, transaction journals) replaced
 * atomically: write a temp file, fsync it, rename over the old one. A reader after a crash sees
 * either the old or the new content, never a mix.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { SourceError } from '../../../core/errors.ts'

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
}

/** The file's value; `valid` checks its shape (a file of another shape is as damaged as one that is not JSON). */
export function readJson<T>(path: string, valid: (value: unknown) => boolean = () => true): T | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err: unknown) {
    // Replaced atomically, so this is damage on disk or an edit by hand: named, not a SyntaxError's stack.
    throw new SourceError('DATA_CORRUPT', `embedded log state file ${path} is damaged (not JSON): restore it from a copy`, { cause: err, context: { path } })
  }
  if (!valid(value)) throw new SourceError('DATA_CORRUPT', `embedded log state file ${path} is damaged (not the state it holds): restore it from a copy`, { context: { path } })
  return value as T
}
