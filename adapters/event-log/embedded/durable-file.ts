/**
 * Small JSON state files (group offsets, topic metadata, transaction journals) replaced
 * atomically: write a temp file, fsync it, rename over the old one. A reader after a crash sees
 * either the old or the new content, never a mix.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'

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

export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
