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
import { open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { syncDir } from '../../local-disk/sync-dir.ts'

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
}
