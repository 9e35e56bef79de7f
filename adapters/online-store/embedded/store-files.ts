/**
 * The file-system steps of the embedded online store, as a port of its own: the store's crash
 * recovery is tested by stopping it at every one of these steps on a model disk that forgets what
 * was never made durable (test/unit/online-store/embedded-crash-steps.test.ts), and run on the real
 * disk by `nodeStoreFiles`.
 *
 * Guarantees the store relies on (the POSIX ones, nothing more):
 * - `write` returns once the file's bytes are durable (datasync), not its name;
 * - a name created by `write`, moved by `rename` or dropped by `remove` is durable only once
 *   `syncDir` of its directory has returned;
 * - a crash during `write` may leave any prefix of the bytes (a torn tail).
 */
import type { BigIntStats } from 'node:fs'
import { open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { lockDirectory, unlockDirectory, type LockOwner } from '../../local-disk/directory-lock.ts'
import { syncDir } from '../../local-disk/sync-dir.ts'
import { SourceError } from '../../../core/errors.ts'
import { sourceDamage, storedFileNotAFile } from '../../../core/stored-json.ts'

/**
 * A failed read of one of the store's files (the file, its journal): a directory in its place is
 * damage (DATA_CORRUPT naming it, with the way back); anything else may pass (SOURCE_UNAVAILABLE).
 */
export function storeFileReadFailure(err: unknown, file: { readonly what: string; readonly path: string; readonly advice: string }): SourceError {
  return (
    (storedFileNotAFile(err, { ...file, error: sourceDamage }) as SourceError | undefined) ??
    new SourceError('SOURCE_UNAVAILABLE', `cannot read ${file.what}`, { cause: err })
  )
}

export interface StoreFiles {
  /** The file's text; undefined when there is no such file. */
  read(path: string): Promise<string | undefined>
  /** Names in the directory (no paths); none when it does not exist. */
  list(dir: string): Promise<string[]>
  /** Writes `text` (replacing the file, or appending to it) and datasyncs it. */
  write(path: string, text: string, mode: 'replace' | 'append'): Promise<void>
  rename(from: string, to: string): Promise<void>
  /** Removes the file; no error when it is already gone. */
  remove(path: string): Promise<void>
  syncDir(dir: string): Promise<void>
  /**
   * Takes the directory for the store's one writer until the release returned is called; a
   * ConfigError naming the holder when another writer (another process, or this one) has it.
   */
  lock(dir: string): () => void
}

/** The refusal a second writer gets: what to do about it (one writer; any number of readers). */
const ONLINE_STORE_WRITER: LockOwner = {
  what: 'embedded online store',
  advice:
    'the embedded store takes one writer at a time — stop that kfs (a kfs run, or a kfs replay --online or --online-from-offline) and run this again, or use Redis (KFS_REDIS_URL), which takes several writers; kfs serve only reads the store and runs beside its writer',
}

/**
 * What a follower (embedded-online-follower.ts) reads, and no more: it never writes, renames,
 * removes or locks. A version tells a file replaced by a rename (a new inode) or rewritten apart
 * from the one read before.
 */
export interface FollowedFiles {
  /** The file's version now; undefined when there is no such file. */
  version(path: string): Promise<string | undefined>
  /** The file's text and the version it was read at (one open file: the text is of that version). */
  readVersioned(path: string): Promise<{ readonly text: string; readonly version: string } | undefined>
  /** The file's bytes from `offset` on, as text ('' when it is not longer), and its size; undefined when there is no such file. */
  readFrom(path: string, offset: number): Promise<{ readonly text: string; readonly size: number } | undefined>
}

function versionOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`
}

function absent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
}

/** `path` opened for reading; undefined when there is no such file (the writer has not made it, or replaced it meanwhile). */
async function openIfPresent(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r')
  } catch (err: unknown) {
    if (absent(err)) return undefined
    throw err
  }
}

export const nodeFollowedFiles: FollowedFiles = {
  async version(path) {
    try {
      return versionOf(await stat(path, { bigint: true }))
    } catch (err: unknown) {
      if (absent(err)) return undefined
      throw err
    }
  },
  async readVersioned(path) {
    const handle = await openIfPresent(path)
    if (handle === undefined) return undefined
    try {
      const version = versionOf(await handle.stat({ bigint: true }))
      return { text: await handle.readFile('utf8'), version }
    } finally {
      await handle.close()
    }
  },
  async readFrom(path, offset) {
    const handle = await openIfPresent(path)
    if (handle === undefined) return undefined
    try {
      const size = Number((await handle.stat()).size)
      if (size <= offset) return { text: '', size }
      const buffer = Buffer.alloc(size - offset)
      let got = 0
      while (got < buffer.length) {
        const { bytesRead } = await handle.read(buffer, got, buffer.length - got, offset + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      return { text: buffer.subarray(0, got).toString('utf8'), size }
    } finally {
      await handle.close()
    }
  },
}

export const nodeStoreFiles: StoreFiles = {
  async read(path) {
    try {
      return await readFile(path, 'utf8')
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  },
  async list(dir) {
    try {
      return await readdir(dir)
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  },
  async write(path, text, mode) {
    const handle = await open(path, mode === 'replace' ? 'w' : 'a')
    try {
      await handle.writeFile(text)
      await handle.datasync()
    } finally {
      await handle.close()
    }
  },
  rename: (from, to) => rename(from, to),
  remove: (path) => rm(path, { force: true }),
  syncDir,
  lock(dir) {
    lockDirectory(dir, ONLINE_STORE_WRITER)
    return () => unlockDirectory(dir)
  },
}
